"""D's normalisations other than SN (--d-norm bn | ln | wn) against their formulas, computed by hand."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancli.config import ModelConfig
from gancli.layers import LayerNorm2d, apply_weight_norm, feature_norm, init_weights
from gancli.layers.norm import is_weight_normalized, wn_layers
from gancli.layers.spectral import sn_layers
from gancli.models import build_network


def test_layer_norm_is_per_sample_over_c_h_w():
    ln = LayerNorm2d(6)
    with torch.no_grad():
        ln.weight.copy_(torch.linspace(0.5, 2.0, 6))
        ln.bias.copy_(torch.linspace(-1.0, 1.0, 6))
    x = torch.randn(4, 6, 5, 3) * torch.tensor([1.0, 3.0, 0.1, 10.0])[:, None, None, None] + 2.0
    flat = x.double().flatten(1)
    mean = flat.mean(1)[:, None, None, None]
    var = flat.var(1, unbiased=False)[:, None, None, None]
    expected = (x.double() - mean) / torch.sqrt(var + 1e-5)
    expected = expected * ln.weight.double()[None, :, None, None] + ln.bias.double()[None, :, None, None]
    torch.testing.assert_close(ln(x).double(), expected, rtol=1e-5, atol=1e-5)
    # one sample's output does not depend on the others
    torch.testing.assert_close(ln(x[1:2]), ln(x)[1:2], rtol=0, atol=1e-6)


def test_feature_norm_kinds():
    assert isinstance(feature_norm("bn", 4), nn.BatchNorm2d)
    assert isinstance(feature_norm("ln", 4), LayerNorm2d)
    for kind in ("sn", "wn", "none"):
        assert isinstance(feature_norm(kind, 4), nn.Identity)
    with pytest.raises(ValueError, match="unknown D normalisation"):
        feature_norm("gn", 4)


@pytest.mark.parametrize("name", ["cnn", "dcgan", "sngan"])
def test_bn_in_d_uses_the_statistics_of_the_batch_it_is_called_on(name):
    d = build_network(ModelConfig(name=name, res=32, ch=8, d_norm="bn"), "D")
    assert sn_layers(d) == []
    bns = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    seen = {}
    bns[0].register_forward_hook(lambda m, args, out: seen.update(x=args[0].detach(), y=out.detach()))
    with torch.no_grad():
        bns[0].weight.uniform_(0.5, 1.5)
        bns[0].bias.uniform_(-0.5, 0.5)
    x = torch.randn(6, 3, 32, 32)
    d.train()
    with torch.no_grad():
        logits = d(x)
    expected = F.batch_norm(seen["x"], None, None, bns[0].weight, bns[0].bias, training=True, eps=bns[0].eps)
    torch.testing.assert_close(seen["y"], expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        others_changed = d(torch.cat([x[:3], torch.randn(3, 3, 32, 32)]))
        assert (logits[:3] - others_changed[:3]).abs().max() > 1e-4  # train mode: the batch matters
        d.eval()
        torch.testing.assert_close(d(x[:3]), d(x)[:3], rtol=1e-5, atol=1e-5)  # eval: running averages


def test_weight_norm_weight_is_g_v_over_norm_v_per_output_channel():
    conv = nn.Conv2d(3, 5, 3)
    apply_weight_norm(nn.Sequential(conv))
    assert is_weight_normalized(conv)
    with torch.no_grad():
        conv.parametrizations.weight.original0.copy_(torch.linspace(0.2, 3.0, 5).reshape(5, 1, 1, 1))
        conv.parametrizations.weight.original1.normal_()
    g = conv.parametrizations.weight.original0.detach().flatten()
    v = conv.parametrizations.weight.original1.detach()
    expected = torch.stack([g[o] * v[o] / v[o].norm() for o in range(5)])
    torch.testing.assert_close(conv.weight, expected, rtol=1e-6, atol=1e-6)
    assert conv.weight.flatten(1).norm(dim=1).tolist() == pytest.approx(g.tolist(), rel=1e-5)


@pytest.mark.parametrize("init", ["xavier", "normal", "ortho"])
def test_init_reaches_v_and_starts_weight_norm_at_w_equal_v(init):
    d = build_network(ModelConfig(name="cnn", res=32, ch=8, n_classes=3, d_norm="wn", init=init), "D")
    layers = [m for _, m in wn_layers(d)]
    convs_and_linears = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers == convs_and_linears and len(layers) == 8  # seven convs and the linear layer
    assert not is_weight_normalized(d.head.embed) and sn_layers(d) == []
    for m in layers:
        v = m.parametrizations.weight.original1
        torch.testing.assert_close(m.weight, v, rtol=1e-5, atol=1e-7)
        if init == "normal":
            assert v.std().item() == pytest.approx(0.02, rel=0.2)


def test_init_weights_leaves_weight_norm_parameters_consistent_under_the_default_scheme():
    net = nn.Sequential(nn.Linear(4, 3))
    apply_weight_norm(net)
    init_weights(net, "default")
    torch.testing.assert_close(net[0].weight, net[0].parametrizations.weight.original1)
