"""D's normalisations other than SN (--d-norm bn | ln | wn) against their formulas, computed by hand."""
import pytest
import torch
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
    # one sample's output does not depend on the others (batch 1 against batch 4: equal up to float32
    # rounding of the reductions, a few ulps of outputs up to ~7; depending on the others would be O(1))
    torch.testing.assert_close(ln(x[1:2]), ln(x)[1:2], rtol=1e-5, atol=1e-6)


def test_feature_norm_kinds():
    assert isinstance(feature_norm("bn", 4), nn.BatchNorm2d)
    assert isinstance(feature_norm("ln", 4), LayerNorm2d)
    for kind in ("sn", "wn", "none"):
        assert isinstance(feature_norm(kind, 4), nn.Identity)
    with pytest.raises(ValueError, match="unknown D normalisation"):
        feature_norm("gn", 4)


@pytest.mark.parametrize("gamma", [False, True])
@pytest.mark.parametrize("name", ["cnn", "dcgan", "sngan"])
def test_bn_in_d_uses_the_statistics_of_the_batch_it_is_called_on(name, gamma):
    d = build_network(ModelConfig(name=name, res=32, ch=8, d_norm="bn", d_norm_gamma=gamma), "D")
    assert sn_layers(d) == []
    bns = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    assert all((bn.weight is not None) == gamma and bn.bias is not None for bn in bns)
    seen = {}
    bns[0].register_forward_hook(lambda m, args, out: seen.update(x=args[0].detach(), y=out.detach()))
    with torch.no_grad():
        if gamma:
            bns[0].weight.uniform_(0.5, 1.5)
        bns[0].bias.uniform_(-0.5, 0.5)
    x = torch.randn(6, 3, 32, 32)
    d.train()
    with torch.no_grad():
        logits = d(x)
    # by hand, in float64: (x - mean_B) / sqrt(var_B + eps) [* gamma] + beta, statistics over (N, H, W)
    h = seen["x"].double()
    mean = h.mean((0, 2, 3), keepdim=True)
    var = h.var((0, 2, 3), unbiased=False, keepdim=True)
    expected = (h - mean) / torch.sqrt(var + bns[0].eps)
    if gamma:
        expected = expected * bns[0].weight.double()[None, :, None, None]
    expected = expected + bns[0].bias.double()[None, :, None, None]
    torch.testing.assert_close(seen["y"].double(), expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        others_changed = d(torch.cat([x[:3], torch.randn(3, 3, 32, 32)]))
        assert (logits[:3] - others_changed[:3]).abs().max() > 1e-4  # train mode: the batch matters
        d.eval()
        torch.testing.assert_close(d(x[:3]), d(x)[:3], rtol=1e-5, atol=1e-5)  # eval: running averages


def test_layer_norm_without_gamma_has_only_an_offset():
    ln = LayerNorm2d(4, gamma=False)
    assert ln.weight is None and [n for n, _ in ln.named_parameters()] == ["bias"]
    with torch.no_grad():
        ln.bias.copy_(torch.tensor([0.5, -1.0, 0.0, 2.0]))
    x = torch.randn(3, 4, 5, 5) * 4 + 7
    flat = x.double().flatten(1)
    expected = (x.double() - flat.mean(1)[:, None, None, None]) / torch.sqrt(flat.var(1, unbiased=False) + 1e-5)[:, None, None, None]
    expected = expected + ln.bias.double()[None, :, None, None]
    torch.testing.assert_close(ln(x).double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,norm", [("cnn", "bn"), ("cnn", "ln"), ("cnn", "wn"), ("dcgan", "ln"), ("sagan", "bn")])
def test_the_paper_baselines_have_no_gamma_unless_asked(name, norm):
    """Miyato et al. 2018's BN / LN / WN discriminators have no learnable scale (revision 2's default);
    --d-norm-gamma adds one per normalised channel (or g per output channel of a weight-normed layer)."""
    plain = build_network(ModelConfig(name=name, res=32, ch=8, d_norm=norm), "D")
    scaled = build_network(ModelConfig(name=name, res=32, ch=8, d_norm=norm, d_norm_gamma=True), "D")
    if norm == "wn":
        extra = sum(m.parametrizations.weight.original0.numel() for _, m in wn_layers(scaled))
    else:
        extra = sum(m.weight.numel() for m in scaled.modules() if isinstance(m, (nn.BatchNorm2d, LayerNorm2d)))
    assert extra > 0
    assert sum(p.numel() for p in scaled.parameters()) - sum(p.numel() for p in plain.parameters()) == extra


def test_gamma_is_refused_where_it_means_nothing():
    from gancli.errors import GancliError
    from gancli.models import resolve_model

    with pytest.raises(GancliError, match="--d-norm-gamma applies to D's bn, ln or wn"):
        resolve_model(ModelConfig(name="cnn", res=32, d_norm="sn", d_norm_gamma=True))
    assert resolve_model(ModelConfig(name="cnn", res=32, d_norm="sn")).d_norm_gamma is None
    assert resolve_model(ModelConfig(name="cnn", res=32, d_norm="bn")).d_norm_gamma is False


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


def test_weight_norm_without_g_gives_unit_rows():
    conv = nn.Conv2d(3, 5, 3)
    apply_weight_norm(nn.Sequential(conv), gamma=False)
    assert is_weight_normalized(conv) and [n for n, _ in conv.named_parameters()] == ["bias", "parametrizations.weight.original"]
    v = conv.parametrizations.weight.original.detach()
    expected = torch.stack([v[o] / v[o].norm() for o in range(5)])
    torch.testing.assert_close(conv.weight, expected, rtol=1e-6, atol=1e-7)
    assert conv.weight.flatten(1).norm(dim=1).tolist() == pytest.approx([1.0] * 5, rel=1e-6)


@pytest.mark.parametrize("gamma", [False, True])
@pytest.mark.parametrize("init", ["xavier", "normal", "ortho"])
def test_init_reaches_v_and_starts_weight_norm_at_w_equal_v(init, gamma):
    d = build_network(ModelConfig(name="cnn", res=32, ch=8, n_classes=3, d_norm="wn", d_norm_gamma=gamma, init=init), "D")
    layers = [m for _, m in wn_layers(d)]
    convs_and_linears = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers == convs_and_linears and len(layers) == 8  # seven convs and the linear layer
    assert not is_weight_normalized(d.head.embed) and sn_layers(d) == []
    for m in layers:
        plist = m.parametrizations.weight
        v = plist.original1 if gamma else plist.original
        if gamma:  # g starts at ||v||: the weight used is v itself
            torch.testing.assert_close(m.weight, v, rtol=1e-5, atol=1e-7)
        else:  # no g: each output channel's row is v's, scaled to norm 1
            torch.testing.assert_close(m.weight, v / v.flatten(1).norm(dim=1).view(-1, *[1] * (v.dim() - 1)),
                                       rtol=1e-5, atol=1e-7)
        if init == "normal":
            assert v.std().item() == pytest.approx(0.02, rel=0.2)


def test_init_weights_leaves_weight_norm_parameters_consistent_under_the_default_scheme():
    net = nn.Sequential(nn.Linear(4, 3))
    apply_weight_norm(net)
    init_weights(net, "default")
    torch.testing.assert_close(net[0].weight, net[0].parametrizations.weight.original1)


def test_cross_replica_conversion_keeps_a_bn_without_gamma_as_it_is():
    from gancli.layers.sync_bn import CrossReplicaBatchNorm2d, convert_cross_replica

    d = build_network(ModelConfig(name="cnn", res=32, ch=8, d_norm="bn"), "D")
    x = torch.randn(4, 3, 32, 32)
    before = d(x)
    keys = set(d.state_dict())
    convert_cross_replica(d)
    bns = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(isinstance(m, CrossReplicaBatchNorm2d) and m.weight is None for m in bns)
    assert set(d.state_dict()) == keys
    torch.testing.assert_close(d(x), before, rtol=0, atol=0)  # outside a process group: plain BN
