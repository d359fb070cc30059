"""Outputs are whole or absent under faults: a stop signal, a full disk or a file-size limit during
export or translate; translate's output names never collide; pair domains keep sub-folder images;
a logger that cannot write saves the run and stops it in one line."""
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app
from tests.cli.test_cyclegan_cli import cycle_run  # noqa: F401 - the module's fixture, shared
from tests.data.test_pairs import write_cyclegan_dir

runner = CliRunner()


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def one_line(result, text: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    error = result.stderr[result.stderr.index("error: "):] if "error: " in result.stderr else ""
    assert error.count("\n") == 1 and text in error, result.stderr
    assert "Traceback" not in result.output


def _stop_on_call(monkeypatch, owner, name: str, call: int = 1):
    """Makes the ``call``-th call of ``owner.name`` deliver SIGTERM to this process first."""
    real = getattr(owner, name)
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


def test_sigterm_during_export_leaves_nothing(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = files(tmp_path)
    _stop_on_call(monkeypatch, torch.jit, "save")
    result = runner.invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "out" / "g.pt")])
    one_line(result, "stopped by SIGTERM; nothing half-written was left behind", code=128 + signal.SIGTERM)
    assert files(tmp_path) == before  # no temp file, no folder made for it


def test_export_under_a_file_size_limit_is_one_line_and_leaves_nothing(tiny_run, tmp_path):
    out = tmp_path / "o"
    out.mkdir()

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = subprocess.run([sys.executable, "-m", "gancli", "export", str(tiny_run), "--out", str(out / "g.pt")],
                          capture_output=True, text=True, preexec_fn=limit, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1, proc.stderr
    assert "cannot write" in proc.stderr and "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert files(out) == []


def test_export_into_proc_is_one_line(tiny_run):
    one_line(runner.invoke(app, ["export", str(tiny_run), "--out", "/proc/g.pt"]), "/proc/g.pt")


def test_sigterm_during_translate_leaves_no_folder_and_no_sheet(cycle_run, tmp_path, monkeypatch):  # noqa: F811
    import gancli.sampling.translation as translation

    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        Image.new("RGB", (32, 32), (40 * i, 200, 40)).save(inputs / f"x{i}.png")
    before = files(tmp_path)
    _stop_on_call(monkeypatch, translation, "save_png", call=2)
    result = runner.invoke(app, ["translate", str(cycle_run), "--input", str(inputs), "--out", str(tmp_path / "out"),
                                 "--sheet", str(tmp_path / "sheet.png")])
    one_line(result, "stopped by SIGTERM", code=128 + signal.SIGTERM)
    assert files(tmp_path) == before


def test_translate_names_never_collide(cycle_run, tmp_path):  # noqa: F811
    from gancli.sampling.translation import unique_stems

    inputs = tmp_path / "in"
    inputs.mkdir()
    colours = {"a-1.png": (200, 0, 0), "a.jpg": (0, 200, 0), "a.png": (0, 0, 200)}
    for name, colour in colours.items():
        Image.new("RGB", (32, 32), colour).save(inputs / name)
    result = runner.invoke(app, ["translate", str(cycle_run), "--input", str(inputs), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0 and "wrote 3 translations" in result.stdout, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-1.png", "a.png", "a_png.png"]
    # each output is its own input's translation: translate each file alone and compare
    for source, written in (("a-1.png", "a-1.png"), ("a.jpg", "a.png"), ("a.png", "a_png.png")):
        one = runner.invoke(app, ["translate", str(cycle_run), "--input", str(inputs / source),
                                  "--out", str(tmp_path / f"one-{source}")])
        assert one.exit_code == 0, one.output
        alone = next((tmp_path / f"one-{source}").iterdir())
        a = torch.from_numpy(__import__("numpy").asarray(Image.open(alone), dtype="int16"))
        b = torch.from_numpy(__import__("numpy").asarray(Image.open(tmp_path / "out" / written), dtype="int16"))
        assert (a - b).abs().max() <= 1, source
    paths = [Path(n) for n in ("a.jpg", "a.png", "a_png.png", "a.gif", "b.png")]
    assert unique_stems(paths) == ["a", "a_png-2", "a_png", "a_gif", "b"]


@pytest.mark.parametrize("special", ["fifo", "/dev/null", "link-to-zero"])
def test_translate_refuses_special_inputs_by_type(cycle_run, tmp_path, special):  # noqa: F811
    if special == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif special == "link-to-zero":
        path = tmp_path / "zero.png"
        path.symlink_to("/dev/zero")
    else:
        path = Path(special)
    result = runner.invoke(app, ["translate", str(cycle_run), "--input", str(path), "--out", str(tmp_path / "out")])
    one_line(result, "is neither an image file nor a folder")
    assert not (tmp_path / "out").exists()


def test_pair_domains_keep_images_in_sub_folders(tmp_path):
    from gancli.data import build_pair_dataset

    root = write_cyclegan_dir(tmp_path / "p", {"trainA": 8, "trainB": 3, "testA": 1, "testB": 1})
    (root / "trainA" / "old").mkdir()
    Image.new("RGB", (20, 20), (9, 9, 9)).save(root / "trainA" / "old" / "x.png")
    pair = build_pair_dataset("pair", root=str(root), res=16)
    assert len(pair.a) == 9 and len(pair.b) == 3 and pair.a.skipped == 0


TINY_TRAIN = {"steps": 6, "data_size": 48, "batch_size": 8, "ch": 4, "d_ch": 4, "log_every": 2, "sample_every": 6,
              "ckpt_every": 100, "device": "cpu"}


def test_a_logger_that_cannot_write_saves_the_run_and_stops_in_one_line(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from gancli.checkpoint import load_checkpoint
    from gancli.loggers.tensorboard import TensorBoardLogger

    real = TensorBoardLogger.metrics

    def failing(self, record):
        if record.get("step") == 4:
            raise RuntimeError("disk quota exceeded")
        return real(self, record)

    monkeypatch.setattr(TensorBoardLogger, "metrics", failing)
    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--logger", "tensorboard"]
    for key, value in TINY_TRAIN.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    result = runner.invoke(app, args)
    one_line(result, "the tensorboard logger could not write (RuntimeError: disk quota exceeded); training stopped "
                     f"(saved step 4 to {run / 'checkpoints' / 'last.pt'})")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 4
    monkeypatch.setattr(TensorBoardLogger, "metrics", real)
    import shutil

    shutil.rmtree(run / "tb")
    (run / "tb").write_text("a file where the logger's folder goes")
    one_line(runner.invoke(app, ["train", "--resume", str(run)]), "the tensorboard logger could not start")
