"""One CPU training step per model changes both G's and D's parameters."""
import pytest
import torch

from gancli.config import ModelConfig
from gancli.losses import get_loss, gradient_penalty
from gancli.models import build_models


@pytest.mark.parametrize("loss_name", ["hinge", "wgan-gp"])
@pytest.mark.parametrize("name,d_norm", [("dcgan", "sn"), ("cnn", "sn"), ("sngan", "sn"), ("sagan", "sn"),
                                         ("biggan", "sn"), ("cnn", "bn"), ("cnn", "ln"), ("cnn", "wn"),
                                         ("cnn", "none"), ("sngan", "bn"), ("dcgan", "wn")])
def test_one_step_changes_g_and_d(name, d_norm, loss_name):
    g, d = build_models(ModelConfig(name=name, res=32, ch=8, z_dim=32, n_classes=3, d_norm=d_norm))
    loss = get_loss(loss_name)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.0, 0.9))
    before_g = {k: v.detach().clone() for k, v in g.named_parameters()}
    before_d = {k: v.detach().clone() for k, v in d.named_parameters()}
    real, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 1])

    fake = g(torch.randn(4, 32), y)
    d_loss = loss.d_loss(d(real, y), d(fake.detach(), y))
    if loss.gp_weight:
        d_loss = d_loss + loss.gp_weight * gradient_penalty(lambda x: d(x, y), real, fake)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = loss.g_loss(d(g(torch.randn(4, 32), y), y))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()

    changed_g = [k for k, v in g.named_parameters() if not torch.equal(v, before_g[k])]
    changed_d = [k for k, v in d.named_parameters() if not torch.equal(v, before_d[k])]
    assert len(changed_g) > len(before_g) // 2
    assert len(changed_d) > len(before_d) // 2
    # the first convs of both nets moved
    assert any("conv_out" in k or k.startswith("out") for k in changed_g)
    assert any("head" in k for k in changed_d)
