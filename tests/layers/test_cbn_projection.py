import pytest
import torch
import torch.nn.functional as F

from gancli.config import ModelConfig
from gancli.layers import ConditionalBatchNorm2d, ProjectionHead
from gancli.models import build_network


@pytest.mark.parametrize("kind,cond", [("class", torch.tensor([0, 2, 1, 2])),
                                        ("vector", torch.tensor([[1., 0, 1], [0, 1, 0], [1, 1, 1], [0, 0, 0]]))])
def test_cbn_starts_as_plain_bn_then_depends_on_the_label(kind, cond):
    cbn = ConditionalBatchNorm2d(6, kind, 3)
    x = torch.randn(4, 6, 5, 5)
    plain = F.batch_norm(x, None, None, training=True, eps=1e-5)
    torch.testing.assert_close(cbn(x, cond), plain, rtol=0, atol=1e-6)
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    # the same images twice, with the second copy's labels changed for samples 0 and 1 only
    other = cond.clone()
    other[0], other[1] = cond[1], cond[0]
    both = torch.cat([x, x])
    out = cbn(both, torch.cat([cond, other]))
    diff = (out[:4] - out[4:]).abs().flatten(1).mean(1)
    assert (diff[:2] > 0.1).all()
    assert (diff[2:] == 0).all()
    gamma = 1 + cbn.gain(torch.cat([cond, other]))
    beta = cbn.bias(torch.cat([cond, other]))
    expected = F.batch_norm(both, None, None, training=True, eps=1e-5) * gamma[:, :, None, None] + beta[:, :, None, None]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_projection_head_formula():
    head = ProjectionHead(5, "class", 3)
    h = torch.randn(2, 5)
    y = torch.tensor([2, 0])
    expected = head.psi(h).squeeze(1) + (head.embed.weight[y] * h).sum(1)
    torch.testing.assert_close(head(h, y), expected)


@pytest.mark.parametrize("n_classes,n_attrs", [(5, 0), (0, 4)])
def test_changing_y_changes_the_logit_by_exactly_the_inner_product(n_classes, n_attrs):
    d = build_network(ModelConfig(name="sngan", res=32, ch=8, n_classes=n_classes, n_attrs=n_attrs), "D")
    d.eval()  # no power iteration: the weights stay fixed between the calls
    x = torch.randn(3, 3, 32, 32)
    if n_classes:
        y1, y2 = torch.tensor([0, 1, 4]), torch.tensor([3, 1, 2])
        v1, v2 = d.head.embed.weight[y1], d.head.embed.weight[y2]
    else:
        y1 = torch.tensor([[1., 0, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1]])
        y2 = torch.tensor([[0., 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]])
        v1, v2 = y1 @ d.head.embed.weight.T, y2 @ d.head.embed.weight.T
    with torch.no_grad():
        phi = d.features(x)
        delta = d(x, y1) - d(x, y2)
    torch.testing.assert_close(delta, ((v1 - v2) * phi).sum(1), rtol=1e-4, atol=1e-4)
    assert delta[1].item() == pytest.approx(0.0, abs=1e-4)  # same label, same logit
