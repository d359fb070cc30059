"""What ``gancli train`` shows while it trains: the start banner, plain lines off a terminal, the
bar at 80 columns, the first step's losses at once, and a dataset smaller than one batch."""
import io
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.methods.gan import GANMethod
from gancli.models import count_parameters
from gancli.training import Trainer, train
from gancli.training.data_stream import check_batch_fits
from gancli.training.progress import PROGRESS_ENV, TrainProgress, format_count, format_duration, start_banner

runner = CliRunner()
TINY = ["--ch", "8", "--batch-size", "8", "--data-size", "64", "--device", "cpu"]
RECORD = {"step": 400, "d_loss": 1.234, "g_loss": 0.567, "d_real": 0.12, "d_fake": -0.34, "lr_g": 1e-4,
          "img_s": 97.2, "time": 12.0}


@pytest.fixture(autouse=True)
def _no_forcing(monkeypatch):
    """Output decided by the terminal alone: no GANCLI_PROGRESS, nor rich's FORCE_COLOR / TTY_COMPATIBLE."""
    for name in (PROGRESS_ENV, "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)


def _plain(**kw) -> tuple[TrainProgress, io.StringIO]:
    out = io.StringIO()
    progress = TrainProgress(1600, 0, GANMethod.stat_labels, GANMethod.stat_formats,
                             console=Console(file=out, force_terminal=False), **kw)
    return progress, out


# ---------------------------------------------------------------------------------------- banner
def test_banner_names_run_device_data_method_networks_and_cadence(tmp_path):
    cfg = TrainConfig.from_options({"dataset": "shapes", "ch": 8, "data_size": 64, "batch_size": 8, "device": "cpu",
                                    "log_every": 20, "eval_every": 0})
    trainer = Trainer(cfg, show_progress=False)
    lines = start_banner(trainer, tmp_path / "run")
    text = "\n".join(lines)
    assert lines[0] == f"run      {tmp_path / 'run'}"
    assert re.search(r"^device   cpu, \d+ torch threads?$", text, re.M)
    assert "data     shapes: 64 images, 32x32 px, 8 classes" in text
    assert "method   preset quick, method gan, model sagan, loss hinge" in text
    g, d = (count_parameters(trainer.method.nets[name]) for name in ("G", "D"))
    assert f"params   G {format_count(g)}, D {format_count(d)}" in text
    assert (f"cadence  {cfg.steps} steps of batch 8; log every 20, samples every {cfg.sample_every}, "
            f"checkpoints every {cfg.ckpt_every}, eval off") in text
    assert "resuming" not in text and "\x1b" not in text

    trainer.step, trainer.data_changes = 400, ["images 64 -> 65"]
    assert start_banner(trainer, tmp_path)[-1] == "resuming from step 400 (the dataset changed: images 64 -> 65)"


def test_banner_of_cyclegan_counts_all_four_networks_and_both_domains(tmp_path):
    cfg = TrainConfig.from_options({"dataset": "shapes-pair", "res": 32, "data_size": 12, "batch_size": 2, "ch": 4,
                                    "g_blocks": 1, "device": "cpu"})
    trainer = Trainer(cfg, show_progress=False)
    text = "\n".join(start_banner(trainer, tmp_path))
    assert "shapes-pair: A 12 + B 12 images, 32x32 px, unconditional" in text
    assert "method cyclegan, model cyclegan, loss ls" in text
    params = re.search(r"^params   (.*)$", text, re.M).group(1)
    assert [part.split()[0] for part in params.split(", ")] == ["G_AB", "G_BA", "D_A", "D_B"]


def test_counts_and_durations_are_short():
    assert [format_count(n) for n in (4_380_000, 52_345, 812)] == ["4.38 M", "52.3 k", "812"]
    assert [format_duration(s) for s in (0.4, 45, 192, 3720, 180_000)] == ["0s", "45s", "3m12s", "1h02m", "2d02h"]


# ---------------------------------------------------------------------------------------- plain lines
def test_plain_lines_off_a_terminal():
    progress, out = _plain()
    assert progress.plain
    with progress:
        progress.banner(["run      runs/x"])
        progress.show_first(1, {"d_loss": 1.5, "g_loss": 0.25, "d_real": 0.5, "d_fake": -0.5})
        assert out.getvalue().splitlines()[-1] == "step 1/1600 (0%)  D 1.500  G 0.250  D(x) +0.50  D(G(z)) -0.50"
        progress.advance(400)
        progress.show_stats(RECORD)
        line = out.getvalue().splitlines()[-1]  # written at once, not when the run ends
        assert re.fullmatch(r"step 400/1600 \(25%\)  97 img/s  eta \d+s  D 1\.234  G 0\.567  D\(x\) \+0\.12  "
                            r"D\(G\(z\)\) -0\.34", line), line
        progress.show_stats({**RECORD, "step": 800, "alarm": "G_AB collapsed"})
        progress.show_eval({"step": 800, "fid": 3.21, "feature_extractor": "shapes-net", "n": 200})
        progress.show_stats({**RECORD, "step": 1200})
    lines = out.getvalue().splitlines()
    assert lines[0] == "run      runs/x"
    assert lines[3] == "alarm: G_AB collapsed"
    assert lines[4].startswith("step 800/1600 (50%)  97 img/s  eta ") and "ALARM since step 800" in lines[4]
    assert lines[5].startswith("step 800: FID 3.21") and lines[5].endswith("(shapes-net, n=200)")
    assert "ALARM since step 800" in lines[6]
    assert "\x1b" not in out.getvalue() and "━" not in out.getvalue()


@pytest.mark.parametrize("env, terminal, plain", [
    (None, False, True), (None, True, False), ("plain", True, True), ("bar", False, False), ("Plain ", True, True),
    ("what", False, True),
])
def test_plain_or_bar_follows_the_terminal_unless_forced(monkeypatch, env, terminal, plain):
    if env is not None:
        monkeypatch.setenv(PROGRESS_ENV, env)
    progress = TrainProgress(10, 0, console=Console(file=io.StringIO(), force_terminal=terminal))
    assert progress.plain is plain
    assert TrainProgress(10, 0, console=Console(file=io.StringIO(), force_terminal=terminal), plain=not plain).plain \
        is (not plain)
    assert TrainProgress(10, 0, enabled=False).plain is False


def test_disabled_progress_writes_nothing():
    out = io.StringIO()
    progress = TrainProgress(10, 0, console=Console(file=out, force_terminal=True), enabled=False)
    with progress:
        progress.banner(["run x"])
        progress.show_first(1, {"d_loss": 1.0})
        progress.show_stats({**RECORD, "alarm": "x"})
        progress.show_eval({"step": 1, "fid": 1.0, "feature_extractor": "shapes-net", "n": 2})
    assert out.getvalue() == ""


# ---------------------------------------------------------------------------------------- the bar
def _last_frame(text: str) -> list[str]:
    """The live display's last frame in a recorded console's text (the cursor moves that overwrite
    earlier frames are gone from it): the bar and the line below it."""
    return text[text.rindex("train "):].rstrip("\n").splitlines()


def test_bar_at_80_columns_keeps_step_and_eta_and_shows_the_stats():
    console = Console(record=True, width=80, force_terminal=True)
    progress = TrainProgress(1600, 0, GANMethod.stat_labels, GANMethod.stat_formats, console=console, plain=False)
    with progress:
        progress.advance(400)
        progress.show_stats({**RECORD, "alarm": "a method's alarm"})
    text = console.export_text()
    final = _last_frame(text)  # what stays on screen: the bar and the statistics below it
    assert "400/1600" in final[0] and "eta" in final[0]
    assert final[1] == "ALARM since step 400  97 img/s  D 1.234  G 0.567  D(x) +0.12  D(G(z)) -0.34"
    assert "alarm: a method's alarm" in text
    assert all(len(line) <= 80 for line in final)


def test_bar_at_80_columns_cuts_long_statistics_not_the_step_or_eta():
    console = Console(record=True, width=80, force_terminal=True)
    many = {f"stat_{i}": 0.5 for i in range(12)}  # e.g. CycleGAN's eight losses and two collapse ratios
    progress = TrainProgress(200_000, 0, console=console, plain=False)
    with progress:
        progress.advance(123_456)
        progress.show_stats({"step": 123_456, "img_s": 5.0, **many})
    bar, stats = _last_frame(console.export_text())
    assert "123456/200000" in bar and "eta" in bar and len(bar) <= 80
    assert stats.startswith("5 img/s  stat_0 0.500") and stats.endswith("…") and len(stats) == 80


# ---------------------------------------------------------------------------------------- real runs
def test_cli_run_off_a_terminal_prints_banner_then_plain_lines(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--steps", "5", *TINY, "--log-every", "2", "--out", str(run)])
    assert result.exit_code == 0, result.stderr
    err = result.stderr.splitlines()
    assert err[0] == f"run      {run}"
    assert [line.split()[0] for line in err[:6]] == ["run", "device", "data", "method", "params", "cadence"]
    steps = [line for line in err if line.startswith("step ")]
    assert [s.split()[1] for s in steps] == ["1/5", "2/5", "4/5", "5/5"]
    assert "img/s" not in steps[0] and "eta" not in steps[0] and " D " in steps[0]  # the first step at once
    assert all(" img/s  eta " in s for s in steps[1:])
    assert "\x1b" not in result.stderr
    assert result.stdout.startswith("trained 5 steps in ")
    # the first step's line is not a metrics record: those stay one per --log-every steps
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [2, 4, 5]


def test_resumed_cli_run_says_so_and_shows_its_first_step(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "--steps", "2", *TINY, "--out", str(run), "--ckpt-every", "2"]).exit_code == 0
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "4"])
    assert result.exit_code == 0, result.stderr
    assert "resuming from step 2" in result.stderr
    assert [line.split()[1] for line in result.stderr.splitlines() if line.startswith("step ")] == ["3/4", "4/4"]
    assert "trained 2 steps (steps 2 -> 4)" in result.stdout


def test_the_python_api_prints_nothing(tmp_path, capfd):
    import gancli

    result = gancli.train("shapes", steps=2, ch=8, batch_size=8, data_size=64, device="cpu", log_every=1,
                          out=str(tmp_path / "run"))
    assert result.step == 2
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


# ---------------------------------------------------------------------------------------- too little data
def test_a_dataset_smaller_than_one_batch_is_refused_before_any_model_is_built(tmp_path, monkeypatch):
    def no_models(**kw):
        raise AssertionError("the models were about to be built")

    monkeypatch.setattr("gancli.training.trainer.TrainContext", no_models)
    cfg = TrainConfig.from_options({"dataset": "shapes", "data_size": 10, "device": "cpu", "out": str(tmp_path / "run")})
    assert cfg.batch_size == 24
    with pytest.raises(GancliError) as err:
        train(cfg, show_progress=False)
    assert str(err.value) == "the dataset has 10 images, fewer than one batch of 24; pass --batch-size 10 or less"
    assert not (tmp_path / "run").exists()


def test_each_domain_of_two_domain_data_must_fill_a_batch(tmp_path):
    cfg = TrainConfig.from_options({"dataset": "shapes-pair", "res": 32, "data_size": 3, "batch_size": 4, "ch": 4,
                                    "device": "cpu", "out": str(tmp_path / "run")})
    with pytest.raises(GancliError, match=r"^domain A of the dataset has 3 images, fewer than one batch of 4; "
                                          r"pass --batch-size 3 or less$"):
        train(cfg, show_progress=False)
    with pytest.raises(GancliError, match="^domain B of the dataset has 5 images"):
        check_batch_fits(5, 8, domain="B")


def test_under_data_parallel_the_per_process_batch_must_fit_each_share():
    check_batch_fits(16, 8, world=2)  # 8 images per process: one batch each
    with pytest.raises(GancliError) as err:
        check_batch_fits(10, 8, world=2)
    assert str(err.value) == ("the dataset has 10 images, fewer than one batch of 8 on each of 2 processes "
                              "(16 in all); pass --batch-size 5 or less")
    with pytest.raises(GancliError, match="has 1 image, fewer than one batch of 1 on each of 2 processes"):
        check_batch_fits(1, 1, world=2)
