"""``gancli train`` through the CLI: bad input, dry-run, Ctrl-C, torchrun."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gancli.cli.main import app

runner = CliRunner()
TINY = ["--ch", "8", "--batch-size", "8", "--data-size", "64", "--device", "cpu"]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("args,message", [
    (["imagenet"], "unknown dataset 'imagenet'; choose one of: shapes"),
    (["--model", "sagn"], "unknown model 'sagn'; choose one of: dcgan, cnn, sngan, sagan, biggan, began"),
    (["--loss", "hing"], "unknown loss 'hing'; choose one of: hinge, ns, wgan-gp, ls"),
    (["--res", "48"], "unsupported resolution 48"),
    (["--steps", "0"], "--steps must be positive"),
    (["--batch-size", "-4"], "--batch-size must be positive"),
    (["--d-ch", "0"], "--d-ch must be positive"),
    (["--amp", "fp8"], "unknown --amp 'fp8'"),
    (["--resume", "nowhere"], "--resume nowhere: no such checkpoint file, run directory or run name"),
    (["cifar10", "--data-root", "nodata"], "cifar10"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", *TINY, *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert _files(tmp_path) == []


def test_cond_on_a_flat_folder_is_refused(tmp_path, fake_flat_folder):
    result = runner.invoke(app, ["train", "folder", str(fake_flat_folder.root), "--cond", *TINY,
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "no class sub-folders" in result.stderr
    assert not (tmp_path / "run").exists()


def test_out_holding_another_run_is_refused_and_untouched(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "--steps", "1", *TINY, "--out", str(run)]).exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.name != ".lock"}
    result = runner.invoke(app, ["train", "--steps", "1", *TINY, "--out", str(run)])
    assert result.exit_code == 1
    assert f"{run} already holds a run; pass --resume" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.name != ".lock"} == before


def test_resume_from_a_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = runner.invoke(app, ["train", "--resume", str(bad), "--steps", "5"])
    assert result.exit_code == 1
    assert "not a readable checkpoint" in result.stderr


def test_resume_from_a_foreign_state_dict(tmp_path):
    import torch

    path = tmp_path / "weights.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    result = runner.invoke(app, ["train", "--resume", str(path), "--steps", "5"])
    assert result.exit_code == 1
    assert "holds a plain state_dict, not a gancli checkpoint" in result.stderr


def test_dry_run_prints_the_resolved_config_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--dry-run", "--preset", "sagan", "--model", "biggan", "--lr-g", "2e-4",
                                 "--data-size", "64"])
    assert result.exit_code == 0, result.stderr
    config = json.loads(result.stdout)
    train = config["train"]
    assert train["preset"] == "sagan" and train["model"]["name"] == "biggan" and train["lr_g"] == 2e-4  # explicit wins
    # SAGAN's defaults
    assert (train["lr_d"], train["beta1"], train["beta2"], train["n_dis"], train["batch_size"], train["loss"]) == (
        4e-4, 0.0, 0.9, 1, 64, "hinge")
    assert train["model"]["ch"] == 64 and train["model"]["d_ch"] is None and config["model"]["d_ch"] == 64
    assert "dry_run" not in train and train["method"] == "gan"
    assert train["reuse_fake"] is False
    assert config["model"]["n_classes"] == 8 and config["model"]["attn_res"] == [16]
    assert config["dataset"]["class_names"][:3] == ["circle", "square", "triangle"]
    assert _files(tmp_path) == []


def test_auto_preset_is_quick_on_shapes_and_sagan_elsewhere(tmp_path, fake_cifar_root):
    resolved = json.loads(runner.invoke(app, ["train", "--dry-run", "--data-size", "64"]).stdout)
    quick = resolved["train"]
    assert quick["preset"] == "quick"
    assert (quick["model"]["ch"], quick["model"]["d_ch"], quick["batch_size"], quick["lr_g"], quick["lr_d"], quick["reuse_fake"],
            quick["ema_decay"], quick["steps"]) == (8, 24, 24, 4e-4, 4e-4, True, 0.99, 1600)
    assert (resolved["model"]["ch"], resolved["model"]["d_ch"]) == (8, 24)
    root, _ = fake_cifar_root
    sagan = json.loads(runner.invoke(app, ["train", "cifar10", str(root), "--dry-run"]).stdout)["train"]
    assert sagan["preset"] == "sagan" and sagan["lr_g"] == 1e-4 and sagan["batch_size"] == 64
    bad = runner.invoke(app, ["train", "--dry-run", "--preset", "fast"])
    assert bad.exit_code == 1 and "unknown preset 'fast'; choose one of: auto, sagan, quick" in bad.stderr


def test_train_and_resume_through_the_cli(tmp_path):
    run = tmp_path / "run"
    first = runner.invoke(app, ["train", "--steps", "2", *TINY, "--out", str(run), "--ckpt-every", "2"])
    assert first.exit_code == 0, first.stderr
    assert "trained 2 steps" in first.stdout and "checkpoint: " + str(run / "checkpoints" / "last.pt") in first.stdout
    second = runner.invoke(app, ["train", "--resume", str(run), "--steps", "4"])
    assert second.exit_code == 0, second.stderr
    assert "trained 2 steps (steps 2 -> 4)" in second.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)
    return env


def _start_training(run, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "gancli", "train", "--steps", "100000", *TINY, "--out", str(run),
                             "--log-every", "1", "--ckpt-every", "100000", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    return proc


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_save_a_checkpoint_and_exit_cleanly(tmp_path, signum, code):
    """Ctrl-C, a scheduler's SIGTERM and a closed terminal's SIGHUP: finish the step, save, exit 128 + N."""
    run = tmp_path / "my run"  # a space: the "continue with" hint must be shell-quoted
    proc = _start_training(run)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert f"stopped by {signum.name} at step" in err and f"--resume '{run}'" in err
    from gancli.checkpoint import load_checkpoint

    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert 1 <= state["step"] < 100000


def test_sigusr1_saves_now_and_training_goes_on(tmp_path):
    run = tmp_path / "run"
    proc = _start_training(run)
    proc.send_signal(signal.SIGUSR1)
    deadline = time.time() + 120
    while not (run / "checkpoints" / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (run / "checkpoints" / "last.pt").exists()
    from gancli.checkpoint import load_checkpoint

    saved = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    time.sleep(1.0)
    assert proc.poll() is None  # still training
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] > saved


def test_torchrun_two_processes_on_gloo(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           "-m", "gancli", "train", "--steps", "2", *TINY, "--out", str(run), "--ckpt-every", "2",
           "--log-every", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from gancli.checkpoint import load_checkpoint

    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 2
    # each rank read its own half of the epoch: 2 steps x 8 images per rank
    assert state["data_position"] == {"epoch": 0, "index": 16}
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == [1, 2]  # rank 0 alone writes


def test_an_extractor_made_for_other_data_is_refused_before_training(tmp_path, fake_flat_folder):
    """shapes-net's features of a folder of photographs measure nothing: --eval-every with it is
    refused up front, nothing written."""
    result = runner.invoke(app, ["train", "folder", str(fake_flat_folder.root), *TINY, "--eval-every", "2",
                                 "--feature-extractor", "shapes-net", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: --feature-extractor shapes-net was trained on shapes images only; "
                                    "its features of folder images measure nothing")
    assert not (tmp_path / "run").exists()
