"""The parts the gan method composes: --accumulate (K batches of B = one batch of K * B), augmentation
and regularisers through real steps, exact resume with their state, refusals, the collapse watch."""
import json

import pytest
import torch
from torch import nn

from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.layers.spectral import apply_spectral_norm
from gancli.methods import METHODS
from gancli.methods.gan import GANMethod, feature_spread_ratio
from gancli.training import load_resume, resume_config, train
from gancli.training import Trainer
from tests.methods.conftest import assert_same


class _TinyG(nn.Module):
    """No batch statistics: G(z) = tanh(W z + b) as a 3 x 8 x 8 image (labels ignored)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 3 * 8 * 8)

    def forward(self, z, y=None):
        return torch.tanh(self.fc(z)).view(-1, 3, 8, 8)


class _TinyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 1)

    def forward(self, x, y=None):
        return self.head(torch.relu(self.conv(x)).flatten(1)).squeeze(1)


def _grads_of_one_step(monkeypatch, k: int, b: int, options: dict) -> dict[str, list[torch.Tensor]]:
    """The gradients G and D step on, for one iteration over the same 8 real images and 8 z (fed in
    k batches of b), from the same initial weights, SN on every layer."""
    def build(cls, model_cfg, name):
        torch.manual_seed({"G": 1, "D": 2}[name])
        net = _TinyG() if name == "G" else _TinyD()
        apply_spectral_norm(net)
        return net

    monkeypatch.setattr(GANMethod, "build_network", classmethod(build))
    cfg = TrainConfig.from_options({"dataset": "shapes", "data_size": 16, "res": 32, "z_dim": 16, "batch_size": b,
                                    "accumulate": k, "reuse_fake": False, "cond": False, "ema": False,
                                    "device": "cpu", "out": "unused", **options})
    trainer = Trainer(cfg, show_progress=False)
    ctx = trainer.method.ctx
    real = torch.rand(8, 3, 8, 8, generator=torch.Generator().manual_seed(3)) * 2 - 1
    zs = torch.randn(16, 16, generator=torch.Generator().manual_seed(4))  # the D step's 8, then the G step's
    fed = {"real": iter(real.split(b)), "z": iter(zs.split(b))}
    ctx.next_batch = lambda *a: (next(fed["real"]), None)
    ctx.draw_z = lambda n: next(fed["z"])
    grads = {}

    def capture(opt):
        name = "d" if opt is trainer.method.optimizers["d"] else "g"
        grads[name] = [p.grad.detach().clone() for group in opt.param_groups for p in group["params"]]
        opt.step()

    ctx.optimizer_step = capture
    monkeypatch.setattr(type(ctx), "draw_z", lambda self, n: next(fed["z"]), raising=True)
    trainer.method.train_step()
    return grads


@pytest.mark.parametrize("options", [{"loss": "hinge"}, {"loss": "wgan-gp"}, {"loss": "ns", "reg": ["r1"]}])
def test_k_batches_of_b_step_as_one_batch_of_k_b(monkeypatch, options):
    """(Parts that draw random transforms, --augment and cr / bcr, draw them batch by batch: the
    same distribution, other values; LeCam's running means advance per batch: see GANMethod.)"""
    whole = _grads_of_one_step(monkeypatch, 1, 8, options)
    split = _grads_of_one_step(monkeypatch, 2, 4, options)
    for net in ("d", "g"):
        for a, b in zip(whole[net], split[net]):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)  # the same sums in another order


def test_ada_lecam_r1_and_mbstd_resume_bit_exactly(tmp_path):
    options = {"dataset": "shapes", "data_size": 64, "batch_size": 8, "ch": 8, "steps": 6, "log_every": 1,
               "ckpt_every": 3, "sample_every": 100, "device": "cpu", "augment": "ada", "ada_kimg": 0.016,
               "ada_interval": 1, "reg": ["lecam", "r1:1"], "mbstd": 4}
    straight = train(TrainConfig.from_options({**options, "out": str(tmp_path / "a")}), show_progress=False)
    first = train(TrainConfig.from_options({**options, "steps": 3, "out": str(tmp_path / "b")}), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "b"))
    resumed = train(resume_config(state, {"steps": 6}), show_progress=False, resume_state=state, resume_dir=run_dir)
    a, b = torch.load(straight.last_checkpoint, weights_only=True), torch.load(resumed.last_checkpoint, weights_only=True)
    for part in ("networks", "optimizers", "method_state", "ema"):
        assert_same(a[part], b[part], part)
    records = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "ada_p" in r]
    assert len(steps) == 6 and {"reg_lecam", "reg_r1", "lecam_alpha_real", "div", "spread"} <= set(steps[-1])
    assert all(0.0 <= r["spread"] < 3.0 for r in steps)  # shapes: the factor probe's ratio, logged every step
    # p follows the heuristic by hand: every iteration (interval 1) 8 images move it by 8 / 16 = 0.5
    p = 0.0
    for r in steps:
        p = min(1.0, max(0.0, p + 0.5 * ((r["ada_rt"] > 0.6) - (r["ada_rt"] < 0.6))))
        assert r["ada_p"] == pytest.approx(p)
    assert a["method_state"]["augment"]["p"] == steps[-1]["ada_p"]
    assert first.step == 3


@pytest.mark.parametrize("options,match", [
    ({"accumulate": 2}, "--reuse-fake would keep"),
    ({"accumulate": 0}, "--accumulate must be positive"),
    ({"accumulate": 2, "reuse_fake": False, "preset": "bn"}, "--accumulate with --d-norm bn"),
    ({"reg": ["lecam"], "split_d": True}, "--split-d back-propagates"),
    ({"ada_target": 0.5}, "--ada-target steers --augment ada"),
    ({"mbstd": 5}, "--batch-size must be a multiple of it"),
    ({"augment": "diffaug:warp"}, "unknown DiffAugment op"),
])
def test_parts_refuse_what_they_cannot_train(options, match):
    cfg = TrainConfig.from_options({"dataset": "shapes", **options})
    with pytest.raises(GancliError, match=match):
        cfg.validate()
        METHODS.get("gan").check_config(cfg)


@pytest.mark.parametrize("option", [{"augment": "diffaug"}, {"reg": ["r1"]}, {"accumulate": 2}])
def test_other_methods_refuse_the_gan_parts(option):
    cfg = TrainConfig.from_options({"preset": "began", **option})
    with pytest.raises(GancliError, match="is an option of --method gan"):
        METHODS.get("began").check_config(cfg)


def test_the_spread_ratio_is_one_for_real_images_and_zero_for_one_image():
    torch.manual_seed(0)
    D = _TinyD().eval()
    real = torch.rand(16, 3, 8, 8) * 2 - 1
    assert feature_spread_ratio(D, real, real, None) == pytest.approx(1.0)
    assert feature_spread_ratio(D, real[:1].expand(16, -1, -1, -1), real, None) == pytest.approx(0.0, abs=1e-6)
    half = torch.cat([real[:8], real[:8]])  # 8 distinct images, each twice
    assert 0.3 < feature_spread_ratio(D, half, real, None) < 1.0


def test_ada_logs_over_intervals_where_r_t_appears_midway(tmp_path):
    """ADA reports r_t only from its first adjustment (step 4 here): a log interval holding steps
    before and after it must not fail (the 0.2 pre-release crashed on every default-cadence run)."""
    options = {"dataset": "shapes", "data_size": 64, "batch_size": 8, "ch": 4, "steps": 8, "log_every": 8,
               "ckpt_every": 100, "sample_every": 100, "device": "cpu", "augment": "ada", "ada_kimg": 0.016}
    train(TrainConfig.from_options({**options, "out": str(tmp_path / "a")}), show_progress=False)
    record = json.loads((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["step"] == 8 and -1.0 <= record["ada_rt"] <= 1.0 and 0.0 <= record["ada_p"] <= 1.0


def test_statistics_a_step_did_not_report_are_left_out_of_the_mean():
    from gancli.errors import GancliError
    from gancli.training.loop import _check_finite

    pending = [(1, ("d_loss", "ada_p"), torch.tensor([1.0, 0.0])),
               (2, ("d_loss", "ada_p"), torch.tensor([3.0, 0.5])),
               (3, ("d_loss", "ada_p", "ada_rt"), torch.tensor([5.0, 1.0, 0.25]))]
    names, values = _check_finite(pending, None)
    assert names == ["d_loss", "ada_p", "ada_rt"]
    assert values.nanmean(0).tolist() == pytest.approx([3.0, 0.5, 0.25])
    pending.append((4, ("d_loss",), torch.tensor([float("nan")])))
    with pytest.raises(GancliError, match="the loss became NaN or Inf at step 4"):
        _check_finite(pending, None)
