"""The D regularisers against their formulas, computed by hand."""
import pytest
import torch

from gancli.errors import GancliError
from gancli.regularizers import DStep, build_regs, check_regs, parse_reg
from gancli.regularizers.consistency import BalancedConsistencyReg, ConsistencyReg, consistency_transform
from gancli.regularizers.lecam import LeCam
from gancli.regularizers.r1 import R1


def _step(d_real, d_fake, real=None, extra=None):
    real = real if real is not None else torch.zeros(len(d_real), 3, 4, 4)
    return DStep(real, torch.zeros_like(real), None, None, torch.tensor(d_real), torch.tensor(d_fake), extra)


def test_lecam_by_hand():
    """alpha: zero-debiased EMAs (decay 0.99) of the batch means, this step's included;
    R = mean(relu(D(x) - alpha_F)^2) + mean(relu(alpha_R - D(G(z)))^2)."""
    reg = LeCam(weight=0.5)
    d_real1, d_fake1 = [1.0, 3.0], [-1.0, 0.0]
    # step 1: alpha_R = 2.0, alpha_F = -0.5 (debiased: the means themselves)
    expected1 = ((1.0 + 0.5) ** 2 + (3.0 + 0.5) ** 2) / 2 + (max(0, 2.0 + 1.0) ** 2 + max(0, 2.0 - 0.0) ** 2) / 2
    assert float(reg(_step(d_real1, d_fake1))) == pytest.approx(0.5 * expected1, rel=1e-6)
    d_real2, d_fake2 = [0.0, 0.0], [4.0, 1.0]
    b_r = 0.99 * 0.01 * 2.0 + 0.01 * 0.0
    b_f = 0.99 * 0.01 * -0.5 + 0.01 * 2.5
    a_r, a_f = b_r / (1 - 0.99 ** 2), b_f / (1 - 0.99 ** 2)
    expected2 = (max(0, 0 - a_f) ** 2 + max(0, 0 - a_f) ** 2) / 2 + (max(0, a_r - 4) ** 2 + max(0, a_r - 1) ** 2) / 2
    assert float(reg(_step(d_real2, d_fake2))) == pytest.approx(0.5 * expected2, rel=1e-5)
    stats = reg.stats()
    assert float(stats["lecam_alpha_real"]) == pytest.approx(a_r, rel=1e-5)
    assert float(stats["lecam_alpha_fake"]) == pytest.approx(a_f, rel=1e-5)
    restored = LeCam()
    restored.load_state_dict(reg.state_dict())
    assert restored.t == 2 and torch.equal(restored.biased_real, reg.biased_real.cpu())


def test_r1_is_half_gamma_times_the_squared_input_gradient():
    """D(x) = <w, x> + b: grad_x D = w for every image, so R1 = gamma / 2 ||w||^2."""
    w = torch.randn(3 * 4 * 4, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    real = torch.randn(5, 3, 4, 4).requires_grad_(True)
    d_real = real.flatten(1) @ w + 0.3
    step = DStep(real, real.detach(), None, None, d_real, torch.zeros(5))
    value = R1(weight=10.0)(step)
    assert float(value.detach()) == pytest.approx(10.0 / 2 * float(w.detach() @ w.detach()), rel=1e-5)
    assert value.requires_grad  # differentiable in D (create_graph)


def test_consistency_terms_by_hand():
    d_real, d_fake = torch.tensor([1.0, 2.0]), torch.tensor([0.0, -1.0])
    cr = ConsistencyReg(weight=10.0)
    step = DStep(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), None, None, d_real, d_fake, torch.tensor([1.5, 1.0]))
    assert float(cr(step)) == pytest.approx(10.0 * (0.25 + 1.0) / 2)
    bcr = BalancedConsistencyReg(weight=10.0)
    step.extra = torch.tensor([1.5, 1.0, 1.0, -1.0])
    assert float(bcr(step)) == pytest.approx(10.0 * ((0.25 + 1.0) / 2 + (1.0 + 0.0) / 2))
    images, _ = bcr.extra_inputs(torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8), None, None)
    assert images.shape == (4, 3, 8, 8)


def test_the_consistency_transform_flips_and_shifts_by_up_to_an_eighth():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 5] = 1.0
    torch.manual_seed(0)
    out = consistency_transform(x)
    where = torch.stack([(o[0] == 1).nonzero()[0] for o in out])  # reflected borders: the pixel stays single
    dy = where[:, 0] - 8
    dx = torch.minimum((where[:, 1] - 5).abs(), (where[:, 1] - 10).abs())  # 10: the flipped column
    assert dy.abs().max() <= 2 and dx.max() <= 2 and len(set(where[:, 1].tolist())) > 3


def test_parsing_and_refusals():
    assert parse_reg("lecam:0.1") == ("lecam", 0.1) and parse_reg("r1") == ("r1", None)
    assert [r.weight for r in build_regs(["lecam", "r1:5"])] == [0.3, 5.0]
    for specs, match in ([["lecam:x"]], "must be a number"), ([["cr", "bcr"]], "overlap"), \
                        ([["r1", "r1:2"]], "given twice"), ([["ewc"]], "unknown regulariser 'ewc'"), \
                        ([["r1:-1"]], "finite number >= 0"):
        with pytest.raises(GancliError, match=match):
            check_regs(*specs)
