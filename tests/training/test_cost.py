"""--dry-run's prediction: measured iterations in memory, nothing written, the RNG left alone."""
import json

import pytest
import torch
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.config import TrainConfig
from gancli.training.cost import CostEstimate, estimate_cost
from gancli.viz.units import format_seconds


def test_duration_and_the_line():
    assert [format_seconds(s) for s in (3.2, 42, 272, 3 * 3600 + 12 * 60 + 5, None)] == \
        ["3.2 s", "42.0 s", "4 min 32 s", "3 h 12 min", "-"]
    line = CostEstimate(6.3, 10_000, int(1.7 * 2**30), "cpu", 2, 2).line()
    assert line.startswith("predicted: about 6.3 s/iteration (2 timed after a warm-up on cpu, 2 threads), "
                           "17 h 30 min for 10,000 steps; peak memory about 1.7 GB")


def test_estimate_measures_the_run_without_writing_or_moving_the_rng(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig.from_flat(dict(ch=8, batch_size=8, data_size=64, steps=500, device="cpu"))
    before = torch.random.get_rng_state()
    estimate = estimate_cost(cfg, start_step=100)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert estimate.steps == 400 and estimate.s_per_iter > 0 and estimate.total_s == pytest.approx(400 * estimate.s_per_iter)
    assert estimate.peak_bytes > 2**20 and estimate.device == "cpu"
    assert list(tmp_path.iterdir()) == []


def test_dry_run_prints_the_prediction_on_stderr_and_no_predict_skips_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--dry-run", "--ch", "8", "--batch-size", "8", "--data-size", "64", "--steps", "300"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and result.stdout.lstrip().startswith("{")
    assert "predicted: about " in result.stderr and "for 300 steps" in result.stderr
    quiet = CliRunner().invoke(app, [*args, "--no-predict"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    drop_out = lambda text: {k: v for k, v in json.loads(text)["train"].items() if k != "out"}  # noqa: E731
    assert drop_out(quiet.stdout) == drop_out(result.stdout)
    assert list(tmp_path.iterdir()) == []
