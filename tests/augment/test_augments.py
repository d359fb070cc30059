"""DiffAugment and ADA: shapes, gradients, the adaptive p by hand, state for resume."""
import pytest
import torch

from gancli.augment import build_augment, check_augment, parse_augment
from gancli.augment.ada import AdaptiveAugment
from gancli.augment.diffaug import DiffAugment
from gancli.config import TrainConfig
from gancli.errors import GancliError


def _x(n=8, c=3, res=32):
    return (torch.rand(n, c, res, res, generator=torch.Generator().manual_seed(0)) * 2 - 1).requires_grad_(True)


@pytest.mark.parametrize("ops", [[], ["color"], ["translation"], ["cutout"]])
def test_diffaugment_is_differentiable_and_changes_every_image(ops):
    x = _x()
    torch.manual_seed(1)
    out = DiffAugment(ops)(x)
    assert out.shape == x.shape
    assert all((out[i] - x[i]).abs().max() > 0 for i in range(len(x)))
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diffaugment_translation_moves_content_by_at_most_an_eighth():
    x = torch.zeros(16, 1, 32, 32)
    x[:, :, 16, 16] = 1.0  # one bright pixel
    torch.manual_seed(0)
    out = DiffAugment(["translation"])(x)
    shifts = torch.stack([(o[0] == 1).nonzero()[0] for o in out]) - 16
    assert shifts.abs().max() <= 4 and len(set(map(tuple, shifts.tolist()))) > 4


def test_ada_at_p_0_is_the_identity_and_at_p_1_changes_every_image():
    x = _x()
    ada = AdaptiveAugment()
    assert ada(x) is x
    ada.p = 1.0
    torch.manual_seed(0)
    out = ada(x)
    assert out.shape == x.shape and all((out[i] - x[i]).abs().max() > 1e-3 for i in range(len(x)))
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    gray = _x(c=1)
    assert ada(gray).shape == gray.shape  # one channel: brightness and contrast only


def test_ada_steers_p_by_the_sign_heuristic():
    """p += sign(r_t - target) * batch * interval / (kimg * 1000), every interval, clamped to [0, 1]."""
    ada = AdaptiveAugment(target=0.6, interval=2, kimg=0.032)  # 32 images move p from 0 to 1
    step = 8 * 2 / 32  # a batch of 8, every 2 iterations: 0.5
    ada.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # D confident on reals: r_t = 0.5
    ada.after_step(0, 8, False)
    assert ada.p == 0.0  # not yet: one iteration of two
    ada.observe(torch.tensor([2.0, 3.0, 1.0, 1.0]))  # r_t over both: 6/8 = 0.75 > 0.6
    ada.after_step(1, 8, False)
    assert ada.p == pytest.approx(step) and ada.last_rt == pytest.approx(0.75)
    for _ in range(4):
        ada.observe(torch.ones(4))
        ada.after_step(0, 8, False)
    assert ada.p == 1.0  # clamped
    for _ in range(2):
        ada.observe(-torch.ones(4))  # r_t = -1 < 0.6: p falls
        ada.after_step(0, 8, False)
    assert ada.p == pytest.approx(1.0 - step)
    state = ada.state_dict()
    ada.observe(torch.ones(4))  # mid-interval: the pending signs are part of the state
    restored = AdaptiveAugment(target=0.6, interval=2, kimg=0.032)
    restored.load_state_dict(ada.state_dict())
    assert (restored.p, restored.sign_sum, restored.sign_count, restored.steps) == (ada.p, 4.0, 4, 0)
    assert state["p"] == ada.p


@pytest.mark.parametrize("spec,match", [
    ("diffaug:colour", "unknown DiffAugment op 'colour'"),
    ("adb", "unknown augmentation 'adb'"),
    ("ada:color", "takes no op list"),
])
def test_bad_augment_specs_are_one_line(spec, match):
    with pytest.raises(GancliError, match=match):
        check_augment(TrainConfig.from_options({"augment": spec}))


def test_parse_and_build():
    assert parse_augment("diffaug:translation, cutout") == ("diffaug", ["translation", "cutout"])
    cfg = TrainConfig.from_options({"augment": "ada", "ada_target": 0.7, "ada_kimg": 10.0})
    ada = build_augment(cfg)
    assert isinstance(ada, AdaptiveAugment) and (ada.target, ada.kimg, ada.interval) == (0.7, 10.0, 4)
    assert build_augment(TrainConfig.from_options({})) is None
    with pytest.raises(GancliError, match="--ada-target must be in"):
        check_augment(TrainConfig.from_options({"augment": "ada", "ada_target": 1.5}))
