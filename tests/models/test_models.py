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


#: the models whose D gives a logit per image from G(z, y) (not an autoencoder's, not a translator's)
LOGIT_MODELS = [n for n in MODELS.names() if not MODELS.get(n).autoencoder_d and not MODELS.get(n).translator]


@pytest.mark.parametrize("cond", list(CONDITIONS))
@pytest.mark.parametrize("name, res", [(n, r) for n in LOGIT_MODELS for r in MODELS.get(n).resolutions if r >= 32])
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
    assert {"dcgan", "cnn", "sngan", "sagan", "biggan"} <= set(MODELS.names())


@pytest.mark.parametrize("d_norm", ["sn", "bn", "ln", "wn", "none"])
@pytest.mark.parametrize("cond", list(CONDITIONS))
@pytest.mark.parametrize("res", [28, 32])
@pytest.mark.parametrize("name", ["dcgan", "cnn"])
def test_shapes_at_28_and_32_px_for_every_d_norm(name, res, cond, d_norm):
    n_classes, n_attrs = CONDITIONS[cond]
    cfg = resolve_model(ModelConfig(name=name, res=res, ch=8, z_dim=32, n_classes=n_classes, n_attrs=n_attrs,
                                    d_norm=d_norm, channels=1 if res == 28 else 3))
    g, d = build_models(cfg)
    y = _labels(n_classes, n_attrs, 3)
    with torch.no_grad():
        x = g(torch.randn(3, 32), y)
        logits = d(x, y)
    assert x.shape == (3, cfg.channels, res, res) and x.min() >= -1.0 and x.max() <= 1.0
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    assert cfg.sn_d is (d_norm == "sn")


@pytest.mark.parametrize("name", ["sngan", "sagan", "biggan"])
def test_resnet_models_take_every_d_norm_but_not_28_px(name):
    for d_norm in ("bn", "ln", "wn", "none"):
        g, d = build_models(ModelConfig(name=name, res=32, ch=8, n_classes=3, d_norm=d_norm))
        y = torch.tensor([0, 2])
        with torch.no_grad():
            assert d(g(torch.randn(2, 128), y), y).shape == (2,)
    with pytest.raises(GancliError, match=f"model {name} supports resolutions 32, 64, 128, 256, not 28"):
        resolve_model(ModelConfig(name=name, res=28, ch=8))


def test_d_norm_places_bn_and_ln_after_every_conv_but_the_first():
    from gancli.layers import LayerNorm2d

    for d_norm, kind in (("bn", torch.nn.BatchNorm2d), ("ln", LayerNorm2d)):
        d = build_models(ModelConfig(name="dcgan", res=64, ch=8, d_norm=d_norm))[1]
        assert [type(down.norm) for down in d.downs] == [torch.nn.Identity] + [kind] * 3
        d = build_models(ModelConfig(name="cnn", res=32, ch=8, d_norm=d_norm))[1]
        assert [type(n) for n in d.norms] == [torch.nn.Identity] + [kind] * 6
        d = build_models(ModelConfig(name="sngan", res=32, ch=8, d_norm=d_norm))[1]
        assert type(d.blocks[0].norm1) is type(d.blocks[0].norm2) is torch.nn.Identity  # optimized first block
        assert all(type(b.norm1) is kind and type(b.norm2) is kind for b in d.blocks[1:])
    d = build_models(ModelConfig(name="dcgan", res=32, ch=8, d_norm="none"))[1]
    assert not [m for m in d.modules() if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm))]


def test_old_configs_without_d_norm_keep_their_sn():
    assert resolve_model(ModelConfig(name="dcgan", ch=8)).d_norm == "sn"
    assert resolve_model(ModelConfig(name="dcgan", ch=8, sn_d=False)).d_norm == "none"
    with pytest.raises(GancliError, match="supports --d-norm"):
        resolve_model(ModelConfig(name="cnn", ch=8, d_norm="gn"))


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


@pytest.mark.parametrize("name", LOGIT_MODELS)
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
        # BigGAN's CBN maps start orthogonal, not at zero (they used to be set by hand here)
        assert all(b.bn1.gain.parametrizations.weight.original.abs().sum() > 0 for b in g.blocks)
        base = g(z, y)
        z2 = z.clone()
        z2[:, 24:] += 1.0  # only the last block's chunk
        assert (g(z2, y) - base).abs().max() > 1e-3


def test_dcgan_at_28_px_starts_at_7x7():
    g, d = build_models(ModelConfig(name="dcgan", res=28, ch=8, z_dim=16, n_classes=4, channels=1))
    assert g.input.kernel_size == (7, 7) and len(g.ups) == 1  # 1 -> 7 -> 14 -> 28
    assert len(d.downs) == 2 and d.head.psi.in_features == 16 * 7 * 7  # 28 -> 14 -> 7


def test_dcgan_concat_conditioning_uses_one_hot_inputs():
    g, d = build_models(ModelConfig(name="dcgan", res=32, ch=8, z_dim=16, n_classes=4))
    assert g.input.in_channels == 16 + 4
    assert d.downs[1].conv.in_channels == 8 + 4


def test_a_resolved_config_is_resolved_once(monkeypatch):
    """The loop resolves the model config once (``prepare``); building G and D from it checks
    nothing again, while a changed copy or a changed field is resolved afresh."""
    import dataclasses

    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    cfg = resolve_model(ModelConfig(name="sagan", res=32, ch=4, z_dim=8, n_classes=3))
    calls = []
    monkeypatch.setattr(ModelConfig, "check", lambda self: calls.append(self.ch))
    assert resolve_model(cfg) is cfg
    build_models(cfg)
    assert calls == []
    changed = dataclasses.replace(cfg, ch=8)
    assert resolve_model(changed) is not changed and calls == [8]
    cfg.ch = 2
    assert resolve_model(cfg).ch == 2 and calls == [8, 2]
    assert "_resolved" not in cfg.to_dict()
