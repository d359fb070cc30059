"""BEGAN's networks: G, and D as an autoencoder (encode -> embedding, forward -> reconstruction)."""
import pytest
import torch
from torch import nn

from gancli.config import ModelConfig
from gancli.errors import GancliError
from gancli.models import MODELS, build_models, resolve_model


def _cfg(**kw):
    # d_norm given: the model's D has no SN, and ModelConfig's sn_d default asks for it
    return ModelConfig(**{"name": "began", "ch": 4, "z_dim": 16, "d_norm": "none", **kw})


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("res", [28, 32, 64])
def test_shapes_of_g_reconstruction_and_embedding(res, channels):
    g, d = build_models(_cfg(res=res, channels=channels))
    with torch.no_grad():
        x = g(torch.randn(2, 16) * 3)
        recon, h = d(x, return_embedding=True)
    assert x.shape == recon.shape == (2, channels, res, res)
    assert x.min() >= -1.0 and x.max() <= 1.0 and torch.isfinite(recon).all()
    assert h.shape == (2, 16)
    torch.testing.assert_close(d.encode(x), h, rtol=0, atol=0)
    torch.testing.assert_close(d(x), recon, rtol=0, atol=0)


@pytest.mark.parametrize("res,smallest,scales", [(28, 7, 3), (32, 8, 3), (64, 8, 4), (128, 8, 5)])
def test_encoder_widths_grow_linearly_and_decoder_keeps_n(res, smallest, scales):
    """As BEGAN-tensorflow's encoder: scale i's first 3x3 conv widens to i*n, the stride-2 conv keeps it."""
    n = 4
    g, d = build_models(_cfg(res=res, ch=n))
    enc = [m for m in d.encoder.convs if isinstance(m, nn.Conv2d)]
    two_per_scale = [n * i for i in range(1, scales + 1) for _ in (0, 1)]
    assert [m.out_channels for m in enc if m.stride == (1, 1)] == [n] + two_per_scale
    assert [m.in_channels for m in enc if m.stride == (1, 1)][1::2] == [n] + [n * i for i in range(1, scales)]
    assert [(m.in_channels, m.out_channels) for m in enc if m.stride == (2, 2)] == [(n * i, n * i) for i in range(1, scales)]
    assert d.encoder.fc.in_features == n * scales * smallest * smallest
    for dec in (g.decoder, d.decoder):
        assert dec.fc.out_features == n * smallest * smallest
        assert {m.out_channels for m in dec.blocks if isinstance(m, nn.Conv2d)} == {n}
    assert g.decoder.tanh and not d.decoder.tanh  # D reconstructs without an output activation


def _reference_d_params(res: int, n: int, h: int, c: int = 3) -> int:
    """BEGAN-tensorflow's D (encoder + decoder), counted by hand: conv3x3(a -> b) has 9ab + b parameters."""
    conv = lambda a, b: 9 * a * b + b
    base, scales = (7 if res == 28 else 8), {28: 3, 32: 3, 64: 4, 128: 5}[res]
    enc = conv(c, n)
    for i in range(1, scales + 1):
        enc += conv(n * max(i - 1, 1), n * i) + conv(n * i, n * i) + (conv(n * i, n * i) if i < scales else 0)
    enc += scales * n * base * base * h + h
    dec = h * n * base * base + n * base * base + scales * 2 * conv(n, n) + conv(n, c)
    return enc + dec


@pytest.mark.parametrize("res", [28, 32, 64])
def test_d_has_the_reference_parameter_count(res):
    _, d = build_models(_cfg(res=res, ch=128, z_dim=64, channels=3))
    assert sum(p.numel() for p in d.parameters()) == _reference_d_params(res, 128, 64)
    if res == 64:
        assert _reference_d_params(64, 128, 64) == 13_405_379


def test_a_revision_1_config_rebuilds_gancli_0_1_s_wider_encoder():
    """Checkpoints trained before the fix (no ``revision`` in their config) load: the stride-2 convs widen."""
    old = resolve_model(_cfg(res=64, ch=128, z_dim=64, channels=3)).to_dict()
    for key in ("revision", "z_dist", "d_norm_gamma"):
        del old[key]
    cfg = resolve_model(ModelConfig.from_dict(old))
    assert cfg.revision == 1 and cfg.z_dist == "normal"
    _, d = build_models(cfg)
    assert sum(p.numel() for p in d.parameters()) == 15_617_603
    strided = [m for m in d.encoder.convs if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert [(m.in_channels, m.out_channels) for m in strided] == [(128 * i, 128 * (i + 1)) for i in (1, 2, 3)]


def test_d_width_follows_d_ch():
    _, d = build_models(_cfg(res=32, ch=4, d_ch=6))
    assert d.encoder.convs[0].out_channels == 6 and d.decoder.fc.out_features == 6 * 64


def test_defaults_and_spec():
    cfg = resolve_model(_cfg(res=32))
    assert cfg.init == "xavier" and cfg.sn_g is False and cfg.sn_d is False and cfg.attn_res == []
    spec = MODELS.get("began")
    assert spec.autoencoder_d and spec.d_norms == ("none",) and spec.resolutions == (28, 32, 64, 128)


@pytest.mark.parametrize("kwargs,match", [
    ({"n_classes": 3}, "unconditional.*--no-cond"),
    ({"n_attrs": 2}, "unconditional"),
    ({"res": 256}, "supports resolutions 28, 32, 64, 128"),
    ({"d_norm": "sn"}, "supports --d-norm none"),
    ({"attn_res": [16]}, "no self-attention"),
])
def test_bad_configs_are_domain_errors(kwargs, match):
    with pytest.raises(GancliError, match=match):
        build_models(_cfg(**kwargs))
