"""CycleGAN's ResNet generator and 70x70 PatchGAN against the paper's layer lists."""
import pytest
import torch
from torch import nn

from gancli.layers import is_spectral_normalized, raw_weight
from gancli.models import count_parameters
from gancli.models.cyclegan_nets import PatchDiscriminator, ResnetGenerator


def conv(k: int, c_in: int, c_out: int, bias: bool = True) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


def resnet_g_params(n_blocks: int, c_in: int = 3, c_out: int = 3, ngf: int = 64) -> int:
    """c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3; every conv with a bias, IN without parameters."""
    return (conv(7, c_in, ngf) + conv(3, ngf, 2 * ngf) + conv(3, 2 * ngf, 4 * ngf)
            + n_blocks * 2 * conv(3, 4 * ngf, 4 * ngf)
            + conv(3, 4 * ngf, 2 * ngf) + conv(3, 2 * ngf, ngf)  # transposed convs: same count
            + conv(7, ngf, c_out))


def patch_d_params(norm: str, c_in: int = 3, ndf: int = 64) -> int:
    """C64 (bias, no norm), C128, C256, C512 (bias unless BN, which adds 2 per channel), 4x4 conv to 1."""
    bias = norm != "bn"
    normed = sum(conv(4, a, b, bias) + (2 * b if norm == "bn" else 0)
                 for a, b in [(ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf)])
    return conv(4, c_in, ndf) + normed + conv(4, 8 * ndf, 1)


def test_parameter_counts_match_the_paper_at_256px():
    assert resnet_g_params(9) == 11_378_179
    assert resnet_g_params(6) == 7_837_699
    assert patch_d_params("instance") == 2_764_737
    assert count_parameters(ResnetGenerator(3, 3, ngf=64, n_blocks=9)) == 11_378_179
    assert count_parameters(ResnetGenerator(3, 3, ngf=64, n_blocks=6)) == 7_837_699
    assert count_parameters(PatchDiscriminator(3, ndf=64)) == 2_764_737


@pytest.mark.parametrize("norm", ["instance", "bn", "none", "sn"])
def test_patch_d_parameter_count_per_norm(norm):
    assert count_parameters(PatchDiscriminator(3, ndf=64, norm=norm)) == patch_d_params(norm)


def test_g_counts_scale_with_ngf_and_channels():
    assert count_parameters(ResnetGenerator(1, 3, ngf=8, n_blocks=2)) == resnet_g_params(2, 1, 3, 8)


def patch_side(res: int) -> int:
    side = res
    for _ in range(3):
        side = (side + 2 - 4) // 2 + 1  # 4x4, stride 2, pad 1: halves
    for _ in range(2):
        side = side + 2 - 4 + 1  # 4x4, stride 1, pad 1: minus 1
    return side


@pytest.mark.parametrize("res, side", [(64, 6), (128, 14), (256, 30)])
def test_patch_output_sides(res, side):
    assert patch_side(res) == side


@pytest.mark.parametrize("n_blocks", [6, 9])
@pytest.mark.parametrize("res", [64, 128, 256])
def test_shapes(res, n_blocks):
    G = ResnetGenerator(3, 3, ngf=4, n_blocks=n_blocks)
    D = PatchDiscriminator(3, ndf=4)
    x = torch.rand(2, 3, res, res) * 2 - 1
    with torch.no_grad():
        y = G(x)
        logits = D(y)
    assert y.shape == x.shape
    assert y.abs().max() <= 1
    assert logits.shape == (2, 1, patch_side(res), patch_side(res))


def test_paper_widths_at_64px():
    with torch.no_grad():
        assert ResnetGenerator(3, 3)(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)
        assert PatchDiscriminator(3)(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 6, 6)


def test_g_layer_list():
    G = ResnetGenerator(3, 3, ngf=64, n_blocks=9)
    convs = [m for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [(type(m).__name__, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs] == (
        [("Conv2d", 3, 64, 7, 1), ("Conv2d", 64, 128, 3, 2), ("Conv2d", 128, 256, 3, 2)]
        + [("Conv2d", 256, 256, 3, 1)] * 18
        + [("ConvTranspose2d", 256, 128, 3, 2), ("ConvTranspose2d", 128, 64, 3, 2), ("Conv2d", 64, 3, 7, 1)])
    assert all(m.bias is not None for m in convs)
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 5 + 18  # c7s1-64, d128, d256, u128, u64 and two per block
    assert all(not m.affine and not m.track_running_stats for m in norms)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in G.modules()) == 2 + 18
    assert isinstance(list(G.modules())[-1], nn.Tanh)


def test_residual_block_is_identity_plus_branch():
    G = ResnetGenerator(3, 3, ngf=4, n_blocks=1)
    block = [m for m in G.modules() if type(m).__name__ == "ReflectResBlock"][0]
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), x + block.body(x))


def test_instance_norm_behaves_alike_in_train_and_eval():
    G = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        train_out = G.train()(x)
        eval_out = G.eval()(x)
    torch.testing.assert_close(train_out, eval_out)


@pytest.mark.parametrize("norm, norm_type, n_norms, normed_bias",
                         [("instance", nn.InstanceNorm2d, 3, True), ("bn", nn.BatchNorm2d, 3, False),
                          ("none", None, 0, True), ("sn", None, 0, True)])
def test_d_layer_list(norm, norm_type, n_norms, normed_bias):
    D = PatchDiscriminator(3, ndf=64, norm=norm)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0]) for m in convs] == [
        (3, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, 256, 4, 2, 1), (256, 512, 4, 1, 1), (512, 1, 4, 1, 1)]
    assert convs[0].bias is not None and convs[-1].bias is not None
    assert all((m.bias is not None) == normed_bias for m in convs[1:4])
    norms = [m for m in D.modules() if isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d, nn.GroupNorm))]
    assert len(norms) == n_norms and all(type(m) is norm_type for m in norms)
    if norm == "instance":
        assert all(not m.affine and not m.track_running_stats for m in norms)
    assert sum(is_spectral_normalized(m) for m in convs) == (5 if norm == "sn" else 0)
    relus = [m for m in D.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(relus) == 4 and all(m.negative_slope == 0.2 for m in relus)
    # no norm right after the first conv: C64 is followed by its LeakyReLU
    assert isinstance(D.net[1], nn.LeakyReLU)


def test_sn_d_has_unit_spectral_norm_after_power_iterations():
    D = PatchDiscriminator(3, ndf=8, norm="sn")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for _ in range(100):
            D(x)
    D.eval()
    for m in D.modules():
        if isinstance(m, nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.flatten(1), 2)
            assert sigma.item() == pytest.approx(1.0, rel=5e-3)
            assert raw_weight(m).std().item() == pytest.approx(0.02, rel=0.5)


def test_init_is_normal_002_with_zero_biases():
    G = ResnetGenerator(3, 3, ngf=64, n_blocks=9)
    D = PatchDiscriminator(3, ndf=64, norm="bn")
    weights = torch.cat([m.weight.flatten() for net in (G, D) for m in net.modules()
                         if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert weights.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert weights.std().item() == pytest.approx(0.02, rel=1e-2)
    assert all(not m.bias.any() for net in (G, D) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None)
    bn_scale = torch.cat([m.weight for m in D.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn_scale.mean().item() == pytest.approx(1.0, abs=5e-3)
    assert bn_scale.std().item() == pytest.approx(0.02, rel=0.2)


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="choose one of"):
        PatchDiscriminator(3, norm="ln")


def test_one_cpu_step_changes_g_and_d():
    from gancli.methods.cycle_losses import lsgan_d_loss, lsgan_g_loss

    G, D = ResnetGenerator(3, 3, ngf=4, n_blocks=2), PatchDiscriminator(3, ndf=4)
    g_before = [p.detach().clone() for p in G.parameters()]
    d_before = [p.detach().clone() for p in D.parameters()]
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    a, b = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    fake = G(a)
    opt_g.zero_grad()
    lsgan_g_loss(D(fake)).backward()
    opt_g.step()
    opt_d.zero_grad()
    lsgan_d_loss(D(b), D(fake.detach())).backward()
    opt_d.step()
    assert all(not torch.equal(p, q) for p, q in zip(G.parameters(), g_before))
    assert all(not torch.equal(p, q) for p, q in zip(D.parameters(), d_before))
