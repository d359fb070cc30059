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


def test_biggan_cbn_maps_are_spectrally_normalised_orthogonal_linears():
    """BigGAN(-PyTorch)'s ccbn: gain = 1 + W_gamma c, bias = W_beta c, W SN'd linear maps of
    [shared(y), z chunk], orthogonally initialised like the rest of G."""
    from gancli.layers import is_spectral_normalized, raw_weight

    g = build_network(ModelConfig(name="biggan", res=32, ch=8, n_classes=5), "G")
    maps = [cbn for b in g.blocks for cbn in (b.bn1, b.bn2)]
    for cbn in maps:
        assert cbn.learned_maps and cbn.kind == "vector"
        for m in (cbn.gain, cbn.bias):
            assert isinstance(m, torch.nn.Linear) and m.bias is None and is_spectral_normalized(m)
            w = raw_weight(m).detach()
            small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w  # orthonormal rows or columns
            torch.testing.assert_close(small, torch.eye(small.shape[0]), rtol=0, atol=1e-5)
    assert not is_spectral_normalized(g.shared)
    c = torch.randn(3, maps[0].gain.in_features)
    x = torch.randn(3, maps[0].bn.num_features, 4, 4)
    maps[0].eval()
    expected = (F.batch_norm(x, maps[0].bn.running_mean, maps[0].bn.running_var, training=False, eps=1e-5)
                * (1 + maps[0].gain(c))[:, :, None, None] + maps[0].bias(c)[:, :, None, None])
    torch.testing.assert_close(maps[0](x, c), expected)


def test_biggan_cbn_maps_change_only_sn_buffers():
    """Against the zero-initialised, un-normalised maps the other models keep: the same parameters
    (the raw weights move under ``parametrizations``) plus SN's u, v buffers."""
    from gancli.models import resolve_model, count_parameters
    from gancli.models.resnet_nets import ResNetGenerator
    from gancli.layers import apply_spectral_norm

    cfg = resolve_model(ModelConfig(name="biggan", res=32, ch=8, n_classes=5))
    new = build_network(cfg, "G")
    old = ResNetGenerator(cfg, biggan=True, learned_cbn_maps=False)
    apply_spectral_norm(old)
    assert count_parameters(new) == count_parameters(old)
    new_keys, old_keys = set(new.state_dict()), set(old.state_dict())
    moved = {k for k in old_keys - new_keys}
    assert moved and all(k.endswith((".gain.weight", ".bias.weight")) for k in moved)
    added = new_keys - old_keys
    assert {k.replace(".parametrizations.weight.original", ".weight") for k in added if k.endswith(".original")} == moved
    assert {k for k in added if not k.endswith(".original")} == {
        k.replace(".weight", ".parametrizations.weight.0._" + uv) for k in moved for uv in ("u", "v")}
    # weights of the old, un-normalised maps would compute another generator: refused, with the reason
    with pytest.raises(RuntimeError, match="un-normalised BigGAN CBN map of an older gancli"):
        new.load_state_dict(old.state_dict())


@pytest.mark.parametrize("name,n_classes,n_attrs", [("sngan", 5, 0), ("sagan", 0, 3), ("biggan", 0, 0)])
def test_other_cbn_maps_stay_zero_and_plain(name, n_classes, n_attrs):
    from gancli.layers import is_spectral_normalized

    g = build_network(ModelConfig(name=name, res=32, ch=8, n_classes=n_classes, n_attrs=n_attrs), "G")
    cbns = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d) and m.kind != "none"]
    if name == "biggan":  # no labels and hierarchical z: the maps see the z chunks, learned
        assert cbns and all(m.learned_maps for m in cbns)
        return
    assert cbns
    for cbn in cbns:
        assert not cbn.learned_maps
        for m in (cbn.gain, cbn.bias):
            assert not is_spectral_normalized(m) and m.weight.abs().max() == 0
