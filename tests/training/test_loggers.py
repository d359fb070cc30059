"""--logger tensorboard: the event files hold what metrics.jsonl holds (read back with
TensorBoard's own readers), the grids, the config as hparams; resume continues without duplicates."""
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gancli.config import TrainConfig
from gancli.loggers import LOGGERS, scalar_tags
from gancli.loggers.tensorboard import hparam_values
from gancli.training import load_resume, resume_config, train

TINY = dict(ch=8, batch_size=8, data_size=96, log_every=2, sample_every=3, ckpt_every=3, device="cpu")


def _events(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_scalar_tags_of_training_and_eval_records():
    train_record = {"step": 4, "d_loss": 1.5, "g_loss": -0.25, "lr_G": 1e-4, "img_s": 30, "alarm": "collapse",
                    "flag": True, "bad": float("nan")}
    assert scalar_tags(train_record) == {"train/d_loss": 1.5, "train/g_loss": -0.25, "train/lr_G": 1e-4,
                                         "train/img_s": 30.0}
    eval_record = {"step": 4, "event": "eval", "fid": 12.5, "is_mean": 2.0, "n": 2000, "reference_n": 500,
                   "feature_extractor": "shapes-net", "seconds": 3.0, "per_class": {"circle": 1.0}}
    assert scalar_tags(eval_record) == {"eval/fid": 12.5, "eval/is_mean": 2.0}
    assert scalar_tags({**eval_record, "truncation": None, "ema": True, "seed": 3}) == scalar_tags(eval_record)
    assert scalar_tags({**eval_record, "truncation": 0.5, "ema": False, "seed": 3}) == {
        "eval_t0.5_no_ema/fid": 12.5, "eval_t0.5_no_ema/is_mean": 2.0}


def test_gancli_eval_after_the_run_appends_to_its_tensorboard_log(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from gancli.cli.main import app

    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))
    run, plain = tmp_path / "run", tmp_path / "plain"
    train(TrainConfig.from_flat({**TINY, "out": str(run), "steps": 6, "logger": ["tensorboard"]}), show_progress=False)
    train(TrainConfig.from_flat({**TINY, "out": str(plain), "steps": 6}), show_progress=False)
    runner = CliRunner()
    first = runner.invoke(app, ["eval", str(run), "-n", "20", "--ref-n", "30"])
    assert first.exit_code == 0, first.output
    assert f"appended to {run / 'metrics.jsonl'} and to its tensorboard log" in " ".join(first.output.split())
    assert runner.invoke(app, ["eval", str(run), "-n", "20", "--ref-n", "30", "--truncation", "0.5"]).exit_code == 0
    evals = [r for r in _records(run) if r.get("event") == "eval"]
    acc = _events(run)
    assert [(p.step, pytest.approx(p.value, rel=1e-6)) for p in acc.Scalars("eval/fid")] == [(6, evals[0]["fid"])]
    assert acc.Scalars("eval_t0.5/fid")[0].value == pytest.approx(evals[1]["fid"], rel=1e-6)
    assert [p.step for p in acc.Scalars("train/d_loss")] == [2, 4, 6]  # the training curves are untouched
    # a run trained without the logger gets no TensorBoard folder
    result = runner.invoke(app, ["eval", str(plain), "-n", "20", "--ref-n", "30"])
    assert result.exit_code == 0 and "tensorboard" not in result.output and not (plain / "tb").exists()


def test_hparam_values_flatten_the_config():
    flat = hparam_values({"train": {"lr_g": 1e-4, "attrs": None, "eval_metrics": ["fid", "kid"], "ema": True},
                          "model": {"ch": 8, "attn_res": [16, 32]}})
    assert flat == {"train.lr_g": 1e-4, "train.attrs": "none", "train.eval_metrics": "fid,kid", "train.ema": True,
                    "model.ch": 8, "model.attn_res": "16,32"}


def test_tensorboard_events_equal_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    train(TrainConfig.from_flat({**TINY, "out": str(run), "steps": 6, "eval_every": 6, "eval_n": 40,
                                 "logger": ["tensorboard"]}), show_progress=False)
    acc = _events(run)
    records = _records(run)
    train_records = [r for r in records if r.get("event") != "eval"]
    evals = [r for r in records if r.get("event") == "eval"]
    assert [r["step"] for r in train_records] == [2, 4, 6] and [r["step"] for r in evals] == [6]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d", "img_s"):
        points = acc.Scalars(f"train/{key}")
        assert [p.step for p in points] == [2, 4, 6]
        np.testing.assert_allclose([p.value for p in points], [r[key] for r in train_records], rtol=1e-6)
    fid = acc.Scalars("eval/fid")
    assert [p.step for p in fid] == [6] and fid[0].value == pytest.approx(evals[0]["fid"], rel=1e-6)
    # the grids: the same pixels as the PNGs in samples/
    assert [e.step for e in acc.Images("samples")] == [3, 6]
    for event in acc.Images("samples"):
        logged = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))
        on_disk = np.asarray(Image.open(run / "samples" / f"step-{event.step}.png").convert("RGB"))
        assert np.array_equal(logged, on_disk)
    real = acc.Images("samples/real")
    assert len(real) == 1 and (real[0].width, real[0].height) == Image.open(run / "samples" / "real.png").size


def test_tensorboard_hparams_hold_the_resolved_config_and_final_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import metadata

    run = tmp_path / "run"
    train(TrainConfig.from_flat({**TINY, "out": str(run), "steps": 4, "lr_g": 3e-4, "logger": ["tensorboard"]}),
          show_progress=False)
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    content = mux.PluginRunToTagToContent("hparams")["run/tb"]
    start = metadata.parse_session_start_info_plugin_data(content["_hparams_/session_start_info"])
    assert start.hparams["train.lr_g"].number_value == pytest.approx(3e-4)
    assert start.hparams["model.ch"].number_value == 8 and start.hparams["model.name"].string_value == "sagan"
    experiment = metadata.parse_experiment_plugin_data(content["_hparams_/experiment"])
    assert {"train/d_loss", "train/g_loss", "train/img_s"} <= {m.name.tag for m in experiment.metric_infos}


def test_resume_continues_the_curves_without_duplicate_steps(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    train(TrainConfig.from_flat({**TINY, "out": str(run), "steps": 6, "keep": 0, "logger": ["tensorboard"]}),
          show_progress=False)
    # put the run back to its step-3 checkpoint, as if killed after logging steps 4 and 6
    shutil.copy(run / "checkpoints" / "step-3.pt", run / "checkpoints" / "last.pt")
    state, folder = load_resume(str(run))
    cfg = resume_config(state, {"steps": 8, "logger": ["tensorboard"]})
    result = train(cfg, show_progress=False, resume_state=state, resume_dir=folder)
    assert result.metrics_dropped == 2
    records = [r for r in _records(run) if r.get("event") != "eval"]
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    acc = _events(run)
    points = acc.Scalars("train/d_loss")
    assert [p.step for p in points] == [2, 4, 6, 8]  # the interrupted run's 4 and 6 are gone
    np.testing.assert_allclose([p.value for p in points], [r["d_loss"] for r in records], rtol=1e-6)
    assert [e.step for e in acc.Images("samples")] == [3, 6, 8]
    assert len(list((run / "tb").iterdir())) == 2  # one event file per process


def test_logger_without_its_package_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    import importlib.util

    from gancli.cli.main import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--steps", "2", "--logger", "tensorboard", "--name", "x"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: --logger tensorboard needs the tensorboard package: pip install 'gancli[tensorboard]' "
        "(or pip install tensorboard)"]
    assert not (tmp_path / "runs").exists()


def test_unknown_logger_is_one_line(tmp_path, monkeypatch):
    from gancli.cli.main import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--steps", "2", "--logger", "tb"])
    assert result.exit_code == 1 and "unknown logger 'tb'; choose one of: tensorboard" in result.stderr
    assert not (tmp_path / "runs").exists()
    assert LOGGERS.names() == ["tensorboard"]
