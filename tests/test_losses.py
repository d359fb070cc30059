import math

import pytest
import torch

from gancli.errors import GancliError
from gancli.losses import LOSSES, get_loss, gradient_penalty, orthogonal_regularization

REAL = torch.tensor([2.0, 0.5, -1.0])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def test_hinge_on_hand_computed_logits():
    loss = get_loss("hinge")
    # relu(1 - r) = [0, 0.5, 2] -> 2.5/3 ; relu(1 + f) = [0, 1, 2.5] -> 3.5/3
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(2.5 / 3 + 3.5 / 3)
    assert loss.g_loss(FAKE).item() == pytest.approx(-(-1.5) / 3)


def test_non_saturating_on_hand_computed_logits():
    loss = get_loss("ns")
    sp = lambda v: math.log1p(math.exp(v))
    d = sum(sp(-r) for r in REAL.tolist()) / 3 + sum(sp(f) for f in FAKE.tolist()) / 3
    g = sum(sp(-f) for f in FAKE.tolist()) / 3
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(g, rel=1e-6)


def test_wgan_on_hand_computed_logits():
    loss = get_loss("wgan-gp")
    assert loss.gp_weight == 10.0
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(-1.5 / 3 - 1.5 / 3)
    assert loss.g_loss(FAKE).item() == pytest.approx(0.5)


@pytest.mark.parametrize("norm,expected", [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)])
def test_gradient_penalty_of_a_linear_critic(norm, expected):
    w = torch.randn(3 * 4 * 4)
    w = w / w.norm() * norm  # the critic's input gradient is w everywhere
    critic = lambda x: x.flatten(1) @ w
    real, fake = torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_is_differentiable_in_the_critic():
    w = torch.nn.Parameter(torch.full((12,), 1.0))
    gp = gradient_penalty(lambda x: x.flatten(1) @ w, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    n = math.sqrt(12)
    torch.testing.assert_close(w.grad, torch.full((12,), 2 * (n - 1) / n))


def test_orthogonal_regularization():
    net = torch.nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.eye(3, 4) * 2.0)  # orthogonal rows: no penalty
    assert orthogonal_regularization(net).item() == pytest.approx(0.0)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]))
    # W W^T off-diagonal: (0,1) = (1,0) = 1, rest 0 -> sum of squares 2, halved
    assert orthogonal_regularization(net).item() == pytest.approx(1.0)


def test_orthogonal_regularization_has_biggan_pytorch_s_gradient():
    """BigGAN-PyTorch's ortho(): grad += strength * 2 (W W^T * (1 - I)) W."""
    net = torch.nn.Linear(5, 3, bias=False)
    orthogonal_regularization(net).backward()
    w = net.weight.detach()
    expected = 2 * ((w @ w.t()) * (1 - torch.eye(3))) @ w
    torch.testing.assert_close(net.weight.grad, expected)


def test_unknown_loss():
    with pytest.raises(GancliError, match="unknown loss 'hinj'; choose one of: hinge, ns, wgan-gp, ls"):
        get_loss("hinj")
    assert LOSSES.names() == ["hinge", "ns", "wgan-gp", "ls"]


def test_least_squares_on_hand_computed_logits():
    loss = get_loss("ls")
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    # E[(r - 1)^2] = (0 + 4) / 2 = 2;  E[f^2] = (0 + 4) / 2 = 2;  E[(f - 1)^2] = (1 + 9) / 2 = 5
    assert loss.d_loss(real, fake).item() == pytest.approx(4.0)
    assert loss.g_loss(fake).item() == pytest.approx(5.0)
    assert loss.gp_weight == 0.0


def test_losses_take_the_penalty_weight_as_a_parameter():
    assert get_loss("wgan-gp").gp_weight == 10.0
    assert get_loss("wgan-gp", gp_weight=1.0).gp_weight == 1.0
    assert get_loss("hinge").gp_weight == 0.0
    assert get_loss("hinge", gp_weight=5.0).gp_weight == 5.0  # hinge + GP
