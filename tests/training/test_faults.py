"""Faults and hostile input during training: each test reproduces a fault that used to lose work,
save a broken model, race, or end in a traceback (docs/training.md, "What survives what")."""
import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from gancli.checkpoint import load_checkpoint, save_checkpoint
from gancli.cli.main import app
from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.training import load_resume, resume_config, train

TINY = dict(ch=4, batch_size=4, data_size=32, log_every=1, sample_every=3, ckpt_every=3, device="cpu")
TINY_ARGS = ["--ch", "4", "--batch-size", "4", "--data-size", "32", "--device", "cpu"]
runner = CliRunner()


def _cfg(tmp_path, name="run", **kw):
    return TrainConfig.from_flat({**TINY, "out": str(tmp_path / name), **kw})


def _resume(run, **explicit):
    state, run_dir = load_resume(str(run))
    return train(resume_config(state, {"steps": 6, **explicit}), show_progress=False, resume_state=state,
                 resume_dir=run_dir)


# ---------------------------------------------------------------------------------------- NaN weights
def test_non_finite_weights_are_never_saved(tmp_path, monkeypatch):
    """Finite losses but Inf weights after an update (what --lr-g inf did): the save is refused."""
    from gancli.methods.gan import GANMethod

    original, calls = GANMethod.train_step, {"n": 0}

    def poisoned(self):
        stats = original(self)
        calls["n"] += 1
        if calls["n"] == 6:  # after step 6's losses were computed: they are finite
            with torch.no_grad():
                next(self.nets["G"].parameters()).fill_(float("inf"))
        return stats

    monkeypatch.setattr(GANMethod, "train_step", poisoned)
    with pytest.raises(GancliError, match=r"weights became NaN or Inf by step 6 \(networks\.G\..*not saved.*"
                                          r"last good checkpoint is .*last.pt"):
        train(_cfg(tmp_path, steps=9, log_every=100), show_progress=False)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 3


@pytest.mark.parametrize("phase", ["watch", "sample_grid"])
def test_a_stop_signal_while_logging_or_sampling_still_saves_that_step(tmp_path, monkeypatch, phase):
    """SIGTERM arriving after the step decided not to checkpoint (during the log step's watch, or
    while drawing a grid): the loop saved nothing and stopped with no checkpoint at all."""
    from gancli.training import Trainer

    original = getattr(Trainer, phase)

    def signalled(self, *args):
        if self.step == 4:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the loop's StopSignals: a request, not a kill
        return original(self, *args)

    monkeypatch.setattr(Trainer, phase, signalled)
    result = train(_cfg(tmp_path, steps=50, log_every=2, sample_every=2, ckpt_every=100), show_progress=False)
    assert result.interrupted and result.signal == signal.SIGTERM and result.step == 4
    assert result.last_checkpoint == tmp_path / "run" / "checkpoints" / "last.pt"
    assert load_checkpoint(result.last_checkpoint)["step"] == 4


@pytest.mark.parametrize("args, message", [
    (["--lr-g", "nan"], "--lr-g must be a finite number, got nan"),
    (["--lr-g", "inf"], "--lr-g must be a finite number, got inf"),
    (["--beta2", "5"], "--beta2 must be in [0, 1)"),
    (["--z-dim", "100000000"], "--z-dim must be positive, at most 16384, got 100000000"),
    (["--data-size", "0"], "--data-size must be between 1 and 10,000,000, got 0"),
    (["--data-size", str(10**12)], "--data-size must be between 1 and 10,000,000, got 1000000000000"),
    (["--seed", "-1"], "--seed must be between 0 and 2^32 - 1, got -1"),
    (["--seed", str(2**63 - 1)], "--seed must be between 0 and 2^32 - 1"),
    (["--ema-decay", "nan"], "--ema-decay must be a finite number"),
])
def test_nonsense_numbers_are_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["train", *args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------- locks
def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)
    return env


def test_a_run_in_use_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "gancli", "train", "--steps", "100000", *TINY_ARGS,
                             "--out", str(run), "--log-every", "1", "--ckpt-every", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    try:
        deadline = time.time() + 120
        while not (run / "checkpoints" / "last.pt").exists() and time.time() < deadline:
            time.sleep(0.2)
        resumed = runner.invoke(app, ["train", "--resume", str(run), "--steps", "200000"])
        assert resumed.exit_code == 1, resumed.output
        assert f"{run} is in use by gancli process {proc.pid}" in resumed.stderr
        fresh = runner.invoke(app, ["train", "--steps", "2", *TINY_ARGS, "--out", str(run)])
        assert fresh.exit_code == 1 and f"in use by gancli process {proc.pid}" in fresh.stderr
        assert proc.poll() is None  # the first process trains on, undisturbed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    assert proc.returncode == 143
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # one writer only


# ---------------------------------------------------------------------------------------- data changes
def test_resume_after_the_dataset_changed_is_refused_then_allowed(tmp_path, fake_folder):
    from PIL import Image

    root = fake_folder.root
    cfg = _cfg(tmp_path, dataset="folder", data_root=str(root), data_size=None, steps=3, batch_size=2)
    train(cfg, show_progress=False)
    first_class = sorted(p for p in root.iterdir() if p.is_dir())[0]
    Image.new("RGB", (40, 40), (200, 10, 10)).save(first_class / "added.png")
    with pytest.raises(GancliError, match=r"the dataset changed since the checkpoint \(images \d+ -> \d+\).*"
                                          r"--allow-data-change"):
        _resume(tmp_path / "run")
    resumed = _resume(tmp_path / "run", allow_data_change=True)
    assert resumed.step == 6


def test_a_class_folder_added_before_resume_is_one_line(tmp_path, fake_folder):
    root = fake_folder.root
    train(_cfg(tmp_path, dataset="folder", data_root=str(root), data_size=None, steps=3, batch_size=2),
          show_progress=False)
    extra = root / "zebra"
    extra.mkdir()
    src = next(p for p in root.rglob("*.png"))
    for i in range(3):
        (extra / f"{i}.png").write_bytes(src.read_bytes())
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "run"), "--steps", "6"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "classes [" in result.stderr and "zebra" in result.stderr


# ---------------------------------------------------------------------------------------- recovery
def test_temp_files_of_a_killed_save_are_removed_at_the_next_start(tmp_path):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    ckpts = tmp_path / "run" / "checkpoints"
    for name in (".step-6.pt.abc123.tmp", ".last.pt.4242.tmp"):
        (ckpts / name).write_bytes(b"half a checkpoint")
    _resume(tmp_path / "run")
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.pt", "step-3.pt", "step-6.pt"]


def test_a_run_killed_before_its_first_checkpoint_can_start_again(tmp_path):
    run = tmp_path / "run"
    train(_cfg(tmp_path, steps=2, ckpt_every=100), show_progress=False)  # its one checkpoint is the last step's
    for ckpt in (run / "checkpoints").iterdir():
        ckpt.unlink()  # as if killed before the first save: config.json, grids, metrics, no checkpoint
    (run / "metrics.jsonl").write_text('{"step": 1, "d_loss": 1.0}\n{"step": 2, "d_lo')
    again = runner.invoke(app, ["train", "--steps", "2", *TINY_ARGS, "--out", str(run), "--log-every", "1"])
    assert again.exit_code == 0, again.stderr
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]  # the old run's records are gone, not mixed in


def test_after_a_resume_metrics_have_no_duplicate_steps(tmp_path):
    run = tmp_path / "run"
    train(_cfg(tmp_path, steps=5), show_progress=False)  # checkpoints at 3 and 5, metrics 1..5
    (run / "checkpoints" / "last.pt").unlink()
    (run / "checkpoints" / "step-5.pt").unlink()  # as if killed between step 5's log and its checkpoint
    os.link(run / "checkpoints" / "step-3.pt", run / "checkpoints" / "last.pt")
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "6", "--out", str(run)])
    assert result.exit_code == 0, result.stderr  # --out equal to the run's own directory is fine
    assert "dropped 2 metrics.jsonl records" in result.stderr and "trained 3 steps (steps 3 -> 6)" in result.stdout
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_out_other_than_the_run_is_refused_on_resume(tmp_path):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "run"), "--steps", "6", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "continues in the checkpoint's own run directory" in result.stderr


def test_a_truncated_last_pt_points_to_the_newest_intact_step(tmp_path):
    run = tmp_path / "run"
    train(_cfg(tmp_path, steps=6, keep=0), show_progress=False)
    last = run / "checkpoints" / "last.pt"
    data = last.read_bytes()
    last.unlink()  # last.pt is a hard link to step-6.pt: damage one file, not both
    last.write_bytes(data[: len(data) // 2])
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "9"])
    assert result.exit_code == 1
    assert "truncated or corrupt" in result.stderr
    assert f"the newest intact checkpoint beside it is {run / 'checkpoints' / 'step-6.pt'}" in result.stderr


# ---------------------------------------------------------------------------------------- one clear line
def test_a_read_only_run_fails_before_training(tmp_path, monkeypatch):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    metrics_before = (tmp_path / "run" / "metrics.jsonl").read_text()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if "run" in str(path) else real_access(path, mode))
    with pytest.raises(GancliError, match=r"cannot write to .*run.* \(permission denied\); nothing was trained"):
        _resume(tmp_path / "run")
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == metrics_before


@pytest.mark.parametrize("limit_bytes, what", [(30_000, "step-3.png"), (1_000_000, "the checkpoint of step 3")])
def test_a_file_size_limit_during_a_save_is_one_line(tmp_path, limit_bytes, what):
    """A real limit (RLIMIT_FSIZE, as a full disk): a grid or the checkpoint fails with EFBIG."""
    run = tmp_path / "run"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    done = subprocess.run([sys.executable, "-m", "gancli", "train", "--steps", "3", *TINY_ARGS, "--out", str(run),
                           "--ckpt-every", "3"], capture_output=True, text=True, env=_env(), preexec_fn=limit,
                          timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "could not write " in done.stderr and what in done.stderr
    assert "(File too large)" in done.stderr and "no checkpoint was written yet" in done.stderr
    assert not list((run / "checkpoints").glob("*"))  # no half-written file left
    assert not list(run.rglob(".*.tmp"))


def test_wrong_shaped_tensors_in_a_checkpoint_are_one_line(tmp_path):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    key = next(k for k in state["networks"]["G"] if k.endswith("weight.original"))
    state["networks"]["G"][key] = torch.zeros(3, 3)
    (path).unlink()
    save_checkpoint(path, state)
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "run"), "--steps", "6"])
    assert resumed.exit_code == 1 and "does not fit this run" in resumed.stderr and "Traceback" not in resumed.output
    info = runner.invoke(app, ["info", str(tmp_path / "run")])
    assert info.exit_code == 1 and "its generator does not match its model config" in info.stderr


def test_nonsense_values_inside_a_checkpoint_config_are_one_line(tmp_path):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    state["train_config"]["lr_d"] = "fast"
    path.unlink()
    save_checkpoint(path, state)
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "run"), "--steps", "6"])
    assert result.exit_code == 1 and "--lr-d must be float, got 'fast'" in result.stderr


@pytest.mark.parametrize("command", [["sample", "-n", "4"], ["eval", "-n", "16", "--no-log"],
                                     ["attn-map", "-n", "1"]])
def test_a_checkpoint_with_broken_weights_is_refused_by_every_command(tiny_run, tmp_path, monkeypatch, command):
    """Weights with Inf in them (from a run of an older gancli, say): no black or white pictures,
    no FID of garbage; one line, nothing written."""
    path = tiny_run / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    for weights in (state["networks"]["G"], state["ema"]["G"]):
        key = next(k for k in weights if k.endswith("linear.parametrizations.weight.original"))
        weights[key] = torch.full_like(weights[key], float("inf"))
    path.unlink()
    save_checkpoint(path, state)
    out = tmp_path / "out.png"
    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))
    result = runner.invoke(app, [command[0], str(tiny_run), *command[1:], "--out", str(out)]
                           if command[0] != "eval" else [command[0], str(tiny_run), *command[1:]])
    assert result.exit_code == 1, result.output
    assert "the generator's output is NaN or Inf" in result.stderr and not out.exists()


def test_a_config_file_names_the_flag_it_gets_wrong(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("model = 5\n")
    result = runner.invoke(app, ["train", "--config", str(path), "--dry-run", "--no-predict"])
    assert result.exit_code == 1 and "--model must be str, got 5" in result.stderr
    path.write_text("name = 5\n")
    result = runner.invoke(app, ["train", "--config", str(path), "--dry-run", "--no-predict"])
    assert result.exit_code == 1 and "--name must be str or none, got 5" in result.stderr
