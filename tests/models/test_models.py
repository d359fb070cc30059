import pytest
import torch

from gancli.config import ModelConfig
from gancli.errors import GancliError
from gancli.models import MODELS, build_models, count_parameters, resolve_model

CONDITIONS = {"uncond": (0, 0), "classes": (5, 0), "attrs": (0, 3)}


def _labels(n_classes, n_attrs, n):
    if n_classes:
        return torch.randint(0, n_classes, (n,))
    if n_attrs:
        return torch.randint(0, 2, (n, n_attrs)).float()
    return None


@pytest.mark.parametrize("cond", list(CONDITIONS))
@pytest.mark.parametrize("res", [32, 64, 128, 256])
@pytest.mark.parametrize("name", ["dcgan", "sngan", "sagan", "biggan"])
def test_shapes_range_and_d_output(name, res, cond):
    n_classes, n_attrs = CONDITIONS[cond]
    g, d = build_models(ModelConfig(name=name, res=res, ch=8, z_dim=32, n_classes=n_classes, n_attrs=n_attrs))
    y = _labels(n_classes, n_attrs, 2)
    with torch.no_grad():
        x = g(torch.randn(2, 32) * 3, y)
        logits = d(x, y)
    assert x.shape == (2, 3, res, res)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert logits.shape == (2,) and torch.isfinite(logits).all()


def test_model_names_are_registered():
    assert MODELS.names() == ["biggan", "dcgan", "sagan", "sngan"] or set(MODELS.names()) == {
        "dcgan", "sngan", "sagan", "biggan"}


def test_unknown_model_lists_the_choices():
    with pytest.raises(GancliError, match=r"unknown model 'sagn'; choose one of: .*sagan"):
        build_models(ModelConfig(name="sagn"))


@pytest.mark.parametrize("kwargs,match", [
    ({"res": 48}, "unsupported resolution 48"),
    ({"n_classes": 3, "n_attrs": 2}, "not both"),
    ({"name": "sngan", "attn_res": [16]}, "no self-attention"),
    ({"attn_res": [12]}, "attn_res 12"),
    ({"name": "sagan", "cond_mode": "concat"}, "supports cond_mode proj"),
])
def test_bad_configs_are_domain_errors(kwargs, match):
    with pytest.raises(GancliError, match=match):
        build_models(ModelConfig(**{"ch": 8, **kwargs}))


def test_config_dict_rebuilds_the_same_model():
    cfg = resolve_model(ModelConfig(name="biggan", res=64, ch=8, n_classes=7))
    torch.manual_seed(1)
    g1, d1 = build_models(cfg)
    torch.manual_seed(1)
    g2, d2 = build_models(cfg.to_dict())
    for a, b in [(g1, g2), (d1, d2)]:
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)
    assert cfg.to_dict()["attn_res"] == [32] and cfg.sn_g is True and cfg.init == "ortho"


def test_sagan_attention_defaults_follow_the_paper():
    for res, expected in [(32, [16]), (64, [16]), (128, [32])]:
        cfg = resolve_model(ModelConfig(name="sagan", res=res, ch=8))
        assert cfg.attn_res == expected
        g, d = build_models(cfg)
        # G has one block whose output side is `expected`, D one block at that side
        _, maps = g(torch.randn(2, 128), return_attn=True)
        (attn,) = maps.values()
        assert attn.shape == (2, expected[0] ** 2, expected[0] ** 2 // 4)
        _, dmaps = d(torch.randn(2, 3, res, res), return_attn=True)
        (dattn,) = dmaps.values()
        assert dattn.shape == (2, expected[0] ** 2, expected[0] ** 2 // 4)


def test_reference_widths_at_32px():
    g, d = build_models(ModelConfig(name="sngan", res=32, ch=64, n_classes=10))
    assert {b.conv1.out_channels for b in g.blocks} == {256}  # SNGAN CIFAR G width
    assert {b.conv1.out_channels for b in d.blocks} == {128}  # SNGAN CIFAR D width
    assert count_parameters(g) > 4_000_000


@pytest.mark.parametrize("name", ["dcgan", "sngan", "sagan", "biggan"])
def test_d_ch_widens_only_the_discriminator(name):
    plain = resolve_model(ModelConfig(name=name, res=32, ch=8, n_classes=3))
    assert plain.d_ch == 8  # unset: D takes G's multiplier
    g1, d1 = build_models(plain)
    g2, d2 = build_models(ModelConfig(name=name, res=32, ch=8, d_ch=16, n_classes=3))
    assert count_parameters(g2) == count_parameters(g1)
    convs = lambda net: [m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert max(convs(d2)) == 2 * max(convs(d1))
    with torch.no_grad():
        assert d2(g2(torch.randn(2, 128), torch.tensor([0, 2])), torch.tensor([0, 2])).shape == (2,)


def test_configs_saved_before_d_ch_existed_still_load():
    old = resolve_model(ModelConfig(name="sagan", res=32, ch=8)).to_dict()
    del old["d_ch"]
    assert resolve_model(ModelConfig.from_dict(old)).d_ch == 8
    with pytest.raises(GancliError, match="--d-ch must be positive"):
        resolve_model(ModelConfig(ch=8, d_ch=0))


def test_biggan_hierarchical_z_reaches_every_block():
    cfg = ModelConfig(name="biggan", res=32, ch=8, z_dim=32, n_classes=3)
    g, _ = build_models(cfg)
    assert g.z_sizes == [8, 8, 8, 8]
    # each block's CBN sees [shared (128), z chunk (8)]
    assert all(b.bn1.gain.in_features == 136 for b in g.blocks)
    g.eval()
    z = torch.randn(1, 32)
    y = torch.tensor([1])
    with torch.no_grad():
        for block in g.blocks:
            torch.nn.init.normal_(block.bn1.gain.weight)
        base = g(z, y)
        z2 = z.clone()
        z2[:, 24:] += 1.0  # only the last block's chunk
        assert (g(z2, y) - base).abs().max() > 1e-3


def test_dcgan_concat_conditioning_uses_one_hot_inputs():
    g, d = build_models(ModelConfig(name="dcgan", res=32, ch=8, z_dim=16, n_classes=4))
    assert g.input.in_channels == 16 + 4
    assert d.downs[1].conv.in_channels == 8 + 4
