"""Short real trainings: run directory contents, exact resume, atomic checkpoints, NaN stop."""
import errno
import json

import numpy as np
import pytest
import torch
from PIL import Image

from gancli.checkpoint import load_checkpoint
from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.training import load_resume, resume_config, train
from tests.pictures import ink_width, read_rgb, width_of

TINY = dict(ch=8, batch_size=8, data_size=96, log_every=2, sample_every=3, ckpt_every=3, device="cpu")


def _cfg(tmp_path, name="run", **kw):
    return TrainConfig.from_flat({**TINY, "out": str(tmp_path / name), **kw})


def _net(state: dict, name: str) -> dict:
    """A network's state dict from a checkpoint: "G", "D", or "G_ema"."""
    return state["ema"]["G"] if name == "G_ema" else state["networks"][name]


def _assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=lambda m: f"{k}: {m}")


def test_short_training_writes_the_run_directory(tmp_path):
    result = train(_cfg(tmp_path, steps=6), show_progress=False)
    run = tmp_path / "run"
    assert result.step == 6 and result.run_dir == run
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == "sagan" and config["model"]["n_classes"] == 8
    assert config["dataset"]["name"] == "shapes" and config["train"]["steps"] == 6
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == [2, 4, 6]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d", "img_s"):
        assert all(isinstance(l[key], float) for l in lines)
    assert lines[0]["lr_g"] == pytest.approx(1e-4) and lines[0]["lr_d"] == pytest.approx(4e-4)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["real.png", "step-3.png", "step-6.png"]
    gif = Image.open(run / "progress.gif")  # one frame per grid, each with its step on top
    assert gif.n_frames == 2
    for k, step in enumerate((3, 6)):
        gif.seek(k)
        frame = np.asarray(gif.convert("RGB"))
        grid = read_rgb(run / "samples" / f"step-{step}.png")
        assert frame.shape[1] == grid.shape[1] and frame.shape[0] > grid.shape[0]
        assert ink_width(frame[: frame.shape[0] - grid.shape[0]]) == pytest.approx(width_of(f"step {step}"), abs=1)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt", "step-3.pt", "step-6.pt"]
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 6 and state["format_version"] == 2 and state["method"] == "gan"
    assert sorted(state["networks"]) == ["D", "G"] and sorted(state["optimizers"]) == ["d", "g"]
    assert state["data_position"] == {"epoch": 0, "index": 48}
    assert result.last_grid == run / "samples" / "step-6.png"
    # grid layout: one row per class (8 classes x 8 columns), 2x upscaled 32 px tiles

    grid = Image.open(result.last_grid)
    assert grid.size == (2 * (8 * 34 + 2), 2 * (8 * 34 + 2))
    assert Image.open(run / "samples" / "real.png").size == grid.size


def test_training_changes_weights_and_ema_lags(tmp_path):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    g, g_ema = _net(state, "G"), _net(state, "G_ema")
    key = "linear.parametrizations.weight.original"
    assert not torch.equal(g[key], g_ema[key])
    # buffers (BN statistics, SN vectors) are copied from G, not averaged
    torch.testing.assert_close(g["bn.running_mean"], g_ema["bn.running_mean"], rtol=0, atol=0)


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_resume_is_bit_identical(tmp_path, loss):
    straight = train(_cfg(tmp_path, "straight", steps=6, loss=loss, ckpt_every=6, lr_decay=0.5), show_progress=False)
    train(_cfg(tmp_path, "split", steps=3, loss=loss, ckpt_every=6, lr_decay=0.5), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "split"))
    cfg = resume_config(state, {"steps": 6, "resume": str(tmp_path / "split")})
    resumed = train(cfg, show_progress=False, resume_state=state, resume_dir=run_dir)
    assert resumed.step == straight.step == 6
    a = load_checkpoint(straight.last_checkpoint)
    b = load_checkpoint(resumed.last_checkpoint)
    for net in ("G", "D", "G_ema"):
        _assert_same_state(_net(a, net), _net(b, net))
    for opt in ("g", "d"):
        for pid, s in a["optimizers"][opt]["state"].items():
            torch.testing.assert_close(s["exp_avg"], b["optimizers"][opt]["state"][pid]["exp_avg"], rtol=0, atol=0)
    assert a["data_position"] == b["data_position"]
    # the resumed run continued the same metrics file
    steps = [json.loads(l)["step"] for l in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]


def test_resume_refuses_architecture_changes(tmp_path):
    train(_cfg(tmp_path, steps=2), show_progress=False)
    state, _ = load_resume(str(tmp_path / "run" / "checkpoints" / "last.pt"))
    with pytest.raises(GancliError, match="--model cannot change when resuming"):
        resume_config(state, {"model": "biggan", "steps": 4})
    with pytest.raises(GancliError, match="already at step 2"):
        resume_config(state, {"steps": 2})


def test_crash_during_checkpoint_write_keeps_the_old_last_pt(tmp_path, monkeypatch):
    train(_cfg(tmp_path, steps=3), show_progress=False)
    ckpt_dir = tmp_path / "run" / "checkpoints"
    before = (ckpt_dir / "last.pt").read_bytes()
    state, run_dir = load_resume(str(tmp_path / "run"))

    real_save = torch.save

    def dying_save(obj, f, *a, **kw):
        f.write(b"partial bytes of a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(GancliError, match=r"could not write the checkpoint of step 6 \(No space left on device\); "
                                          r"the last good one is .*last.pt"):
        train(resume_config(state, {"steps": 6}), show_progress=False, resume_state=state, resume_dir=run_dir)
    monkeypatch.setattr(torch, "save", real_save)
    assert (ckpt_dir / "last.pt").read_bytes() == before
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["last.pt", "step-3.pt"]  # no temp files left
    assert load_checkpoint(ckpt_dir / "last.pt")["step"] == 3


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from gancli import losses

    calls = {"n": 0}
    original = losses.HingeLoss.d_loss

    def poisoned(self, real, fake):
        calls["n"] += 1
        value = original(self, real, fake)
        return value * float("nan") if calls["n"] == 5 else value

    monkeypatch.setattr(losses.HingeLoss, "d_loss", poisoned)
    with pytest.raises(GancliError, match=r"NaN or Inf at step 5; .*last good checkpoint is .*last.pt"):
        train(_cfg(tmp_path, steps=8), show_progress=False)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 3


def test_keep_prunes_old_step_checkpoints(tmp_path):
    train(_cfg(tmp_path, steps=9, ckpt_every=2, keep=2), show_progress=False)
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["last.pt", "step-8.pt", "step-9.pt"]


@pytest.mark.parametrize("model", ["dcgan", "sngan", "biggan"])
def test_other_models_train(tmp_path, model):
    result = train(_cfg(tmp_path, model=model, steps=2, ckpt_every=2), show_progress=False)
    assert load_checkpoint(result.last_checkpoint)["model_config"]["name"] == model


def test_reuse_fake_trains_and_differs_from_the_default(tmp_path):
    a = train(_cfg(tmp_path, "a", steps=2), show_progress=False)
    b = train(_cfg(tmp_path, "b", steps=2, reuse_fake=True), show_progress=False)
    ga, gb = _net(load_checkpoint(a.last_checkpoint), "G"), _net(load_checkpoint(b.last_checkpoint), "G")
    assert not torch.equal(ga["conv_out.parametrizations.weight.original"], gb["conv_out.parametrizations.weight.original"])


def test_fake_cifar_on_disk(tmp_path, fake_cifar_root):
    root, arrays = fake_cifar_root
    result = train(_cfg(tmp_path, dataset="cifar10", data_root=str(root), data_size=None, batch_size=4, steps=2,
                        ckpt_every=2), show_progress=False)
    state = load_checkpoint(result.last_checkpoint)
    assert state["model_config"]["n_classes"] == 10
    assert state["dataset"]["size"] == 20


def test_fake_celeba_with_attributes(tmp_path, fake_celeba_root):
    root, fake = fake_celeba_root
    result = train(_cfg(tmp_path, dataset="celeba", data_root=str(root), data_size=None, batch_size=2, steps=2,
                        ckpt_every=2, cond=True, attrs=["Male", "Smiling"], split="all"), show_progress=False)
    state = load_checkpoint(result.last_checkpoint)
    assert state["model_config"]["n_attrs"] == 2
    assert state["dataset"]["attr_names"] == ["Male", "Smiling"]


def test_flat_folder_trains_unconditionally(tmp_path, fake_flat_folder):
    result = train(_cfg(tmp_path, dataset="folder", data_root=str(fake_flat_folder.root), data_size=None,
                        batch_size=2, steps=2, ckpt_every=2), show_progress=False)
    assert load_checkpoint(result.last_checkpoint)["model_config"]["n_classes"] == 0


@pytest.mark.parametrize("loss", ["hinge", "ns", "wgan-gp"])
def test_split_d_step_equals_the_joint_step(tmp_path, loss):
    """Real and fake halves back-propagated separately (half the activation memory) give the same
    update as one concatenated pass, including SN's single power iteration."""
    from gancli.training import Trainer

    states = {}
    for split in (False, True):
        torch.manual_seed(0)
        trainer = Trainer(_cfg(tmp_path, f"split-{split}", loss=loss, split_d=split, steps=2), show_progress=False)
        assert trainer.method.split_d is split
        for _ in range(2):
            trainer.train_step()
        states[split] = trainer.method.nets["D"].state_dict()
    for key, value in states[False].items():
        torch.testing.assert_close(states[True][key], value, rtol=1e-4, atol=1e-5, msg=lambda m: f"{key}: {m}")


def test_lr_decay_is_linear_over_the_last_fraction(tmp_path):
    from gancli.training.trainer import lr_scale

    assert [lr_scale(s, 10, 0.5) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2])
    assert [lr_scale(s, 4, 1.0) for s in range(4)] == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert lr_scale(9, 10, 0.0) == 1.0
    train(_cfg(tmp_path, steps=8, lr_decay=0.5, log_every=1), show_progress=False)
    lines = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # the lr a line shows is the one its last iteration used (iteration s-1 of 8, 0-based)
    expected = [1e-4 * lr_scale(line["step"] - 1, 8, 0.5) for line in lines]
    assert [line["lr_g"] for line in lines] == pytest.approx(expected)
    assert lines[-1]["lr_d"] == pytest.approx(4e-4 * 0.25)


def test_eval_every_logs_metrics_and_leaves_training_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))
    plain = train(_cfg(tmp_path, "plain", steps=6), show_progress=False)
    evaluated = train(_cfg(tmp_path, "eval", steps=6, eval_every=3, eval_n=16, eval_metrics=["fid", "kid"]),
                      show_progress=False)
    lines = [json.loads(l) for l in (tmp_path / "eval" / "metrics.jsonl").read_text().splitlines()]
    evals = [l for l in lines if l.get("event") == "eval"]
    assert [e["step"] for e in evals] == [3, 6]
    for e in evals:
        assert e["n"] == 16 and e["feature_extractor"] == "shapes-factor-net" and e["reference_n"] == 96
        assert set(e["factor_spread"]) == {"shape_colour", "background", "position", "size"}
        assert e["fid"] > 0 and "kid_mean" in e and 0 <= e["class_accuracy"] <= 1
        assert (e["truncation"], e["ema"], e["seed"]) == (None, True, 0)  # G_ema on plain z, the run's seed
    assert evaluated.last_eval == evals[-1]
    a, b = load_checkpoint(plain.last_checkpoint), load_checkpoint(evaluated.last_checkpoint)
    for net in ("G", "D", "G_ema"):
        _assert_same_state(_net(a, net), _net(b, net))
    # gancli eval of the finished run against the same data reuses the features cached in training
    from gancli.config import EvalRequest
    from gancli.metrics.evaluate import evaluate

    again = evaluate(tmp_path / "eval", EvalRequest(n=16), log=False)
    assert again.reference_cached is True
    assert again.metrics["fid"] == pytest.approx(evals[-1]["fid"], rel=1e-6)


def test_eval_setup_failure_writes_nothing(tmp_path, monkeypatch):
    import urllib.error

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", offline)
    with pytest.raises(GancliError, match="--inception-weights"):
        train(_cfg(tmp_path, steps=2, eval_every=1, feature_extractor="inception"), show_progress=False)
    assert not (tmp_path / "run").exists()
