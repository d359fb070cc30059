"""``cnn``: the SNGAN paper's standard CNN (Miyato et al. 2018, Table 3), counted by hand from its layers."""
import pytest
import torch

from gancli.config import ModelConfig
from gancli.errors import GancliError
from gancli.models import build_models, count_parameters, resolve_model


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out  # weight + bias


def linear(n_in, n_out):
    return n_in * n_out + n_out


def bn(c):
    return 2 * c  # gamma, beta


def test_paper_parameter_count_at_32px_ch_64():
    # G: z 128 -> linear -> 4x4x512, BN, ReLU -> deconv 4x4 512->256, 256->128, 128->64 (each BN ReLU)
    #    -> conv 3x3 64->3
    g_count = (linear(128, 4 * 4 * 512) + bn(512) + conv(512, 256, 4) + bn(256) + conv(256, 128, 4) + bn(128)
               + conv(128, 64, 4) + bn(64) + conv(64, 3, 3))
    # D: conv3x3 3->64, conv4x4 64->64, conv3x3 64->128, conv4x4 128->128, conv3x3 128->256,
    #    conv4x4 256->256, conv3x3 256->512, linear 4*4*512 -> 1
    d_count = (conv(3, 64, 3) + conv(64, 64, 4) + conv(64, 128, 3) + conv(128, 128, 4) + conv(128, 256, 3)
               + conv(256, 256, 4) + conv(256, 512, 3) + linear(4 * 4 * 512, 1))
    assert (g_count, d_count) == (3_813_379, 2_935_873)
    g, d = build_models(ModelConfig(name="cnn", res=32, ch=64))
    assert count_parameters(g) == g_count
    assert count_parameters(d) == d_count
    # class conditioning: CBN gains and biases per class in G (no BN affine), a projection table in D
    g, d = build_models(ModelConfig(name="cnn", res=32, ch=64, n_classes=10))
    assert count_parameters(g) == g_count - bn(512 + 256 + 128 + 64) + 10 * bn(512 + 256 + 128 + 64)
    assert count_parameters(d) == d_count + 10 * 4 * 4 * 512


def test_layers_at_32px_follow_the_paper():
    cfg = resolve_model(ModelConfig(name="cnn", res=32, ch=64))
    assert (cfg.sn_g, cfg.sn_d, cfg.d_norm, cfg.init, cfg.cond_mode, cfg.attn_res) == (
        False, True, "sn", "xavier", "proj", [])
    g, d = build_models(cfg)
    assert [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in d.convs] == [
        (3, 64, 3, 1), (64, 64, 4, 2), (64, 128, 3, 1), (128, 128, 4, 2), (128, 256, 3, 1), (256, 256, 4, 2),
        (256, 512, 3, 1)]
    assert [(m.in_channels, m.out_channels) for m in g.deconvs] == [(512, 256), (256, 128), (128, 64)]
    assert g.bottom == 4 and g.conv_out.kernel_size == (3, 3)
    with torch.no_grad():
        assert d.features(torch.zeros(1, 3, 32, 32)).shape == (1, 4 * 4 * 512)


@pytest.mark.parametrize("res,bottom,deconvs,strided", [(28, 7, 2, 2), (32, 4, 3, 3), (64, 8, 3, 3)])
def test_resolutions(res, bottom, deconvs, strided):
    g, d = build_models(ModelConfig(name="cnn", res=res, ch=8, z_dim=16, channels=1))
    assert g.bottom == bottom and len(g.deconvs) == deconvs
    assert sum(m.stride[0] == 2 for m in d.convs) == strided
    assert d.head.psi.in_features == 64 * bottom * bottom  # 8 * d_ch channels at b x b
    with torch.no_grad():
        x = g(torch.randn(2, 16))
        assert x.shape == (2, 1, res, res) and d(x).shape == (2,)


def test_28px_drops_the_last_deconv_and_the_last_strided_conv():
    g, d = build_models(ModelConfig(name="cnn", res=28, ch=64))
    assert [(m.in_channels, m.out_channels) for m in g.deconvs] == [(512, 256), (256, 128)]
    assert g.conv_out.in_channels == 128
    assert [(m.out_channels, m.stride[0]) for m in d.convs] == [(64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (512, 1)]


def test_unsupported_resolution_is_a_domain_error():
    with pytest.raises(GancliError, match="model cnn supports resolutions 28, 32, 64, not 128"):
        build_models(ModelConfig(name="cnn", res=128))
    with pytest.raises(GancliError, match="supports cond_mode proj"):
        build_models(ModelConfig(name="cnn", cond_mode="concat", n_classes=3))


def test_d_leaky_relu_slope_is_0_1():
    cfg = ModelConfig(name="cnn", res=32, ch=8, d_norm="none", init="default")
    _, d = build_models(cfg)
    with torch.no_grad():
        for c in d.convs[1:]:
            c.weight.zero_()
            c.bias.zero_()
        first = d.convs[0]
        first.weight.zero_()
        first.bias.fill_(-1.0)  # every pre-activation of the first layer is -1
        pre = []
        d.convs[1].register_forward_pre_hook(lambda m, args: pre.append(args[0]))
        d(torch.zeros(1, 3, 32, 32))
    assert torch.allclose(pre[0], torch.full_like(pre[0], -0.1))
