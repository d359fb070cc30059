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
    n = 4
    g, d = build_models(_cfg(res=res, ch=n))
    enc = [m for m in d.encoder.convs if isinstance(m, nn.Conv2d)]
    two_per_scale = [n * i for i in range(1, scales + 1) for _ in (0, 1)]
    assert [m.out_channels for m in enc if m.stride == (1, 1)] == [n] + two_per_scale
    assert [m.out_channels for m in enc if m.stride == (2, 2)] == [n * i for i in range(2, scales + 1)]
    assert d.encoder.fc.in_features == n * scales * smallest * smallest
    for dec in (g.decoder, d.decoder):
        assert dec.fc.out_features == n * smallest * smallest
        assert {m.out_channels for m in dec.blocks if isinstance(m, nn.Conv2d)} == {n}
    assert g.decoder.tanh and not d.decoder.tanh  # D reconstructs without an output activation


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
