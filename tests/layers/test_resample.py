"""The folded resampling convolutions equal the textbook ops, in value and in every gradient."""
import pytest
import torch
import torch.nn.functional as F

from gancli.layers import apply_spectral_norm
from gancli.layers.blocks import DBlock, GBlock
from gancli.layers import resample
from gancli.layers.resample import conv3x3_pool, up_conv3x3


def _grads(out, inputs, seed=0):
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return torch.autograd.grad(out, inputs, g)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (8, 8)])
def test_up_conv3x3_equals_upsample_then_conv(size, channels_last):
    torch.manual_seed(0)
    x = torch.randn(3, 4, *size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    ref = F.conv2d(F.interpolate(xin, scale_factor=2, mode="nearest"), w, b, padding=1)
    out = up_conv3x3(xin, w, b)
    assert out.shape == (3, 6, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    for got, want in zip(_grads(out, (x, w, b)), _grads(ref, (x, w, b))):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_up_conv3x3_without_bias():
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    w = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(up_conv3x3(x, w, None), F.conv2d(F.interpolate(x, scale_factor=2), w, None, padding=1))


@pytest.mark.parametrize("size", [(2, 2), (6, 10), (16, 16)])
def test_conv3x3_pool_equals_conv_then_avg_pool(size):
    torch.manual_seed(1)
    x = torch.randn(3, 4, *size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    ref = F.avg_pool2d(F.conv2d(x, w, b, padding=1), 2)
    out = conv3x3_pool(x, w, b)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    for got, want in zip(_grads(out, (x, w, b)), _grads(ref, (x, w, b))):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_textbook_blocks_are_the_published_ones():
    """The reference side of the block tests below, checked by hand once: SNGAN's blocks."""
    torch.manual_seed(4)
    g = GBlock(3, 2).double().eval()
    d = DBlock(2, 3, down=True).double()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    with resample.textbook():
        up = F.interpolate(x, scale_factor=2)
        want = g.conv2(F.relu(g.bn2(g.conv1(F.interpolate(F.relu(g.bn1(x)), scale_factor=2))))) + g.conv_sc(up)
        torch.testing.assert_close(g(x), want)
        h = g(x)
        want = F.avg_pool2d(d.conv2(F.relu(d.conv1(F.relu(h)))), 2) + F.avg_pool2d(d.conv_sc(h), 2)
        torch.testing.assert_close(d(h), want)
    assert resample.folded()


def test_gblock_matches_the_upsample_then_conv_block_under_spectral_norm():
    torch.manual_seed(2)
    block = GBlock(8, 6, "class", 5).double()
    apply_spectral_norm(block)
    block.eval()  # eval: SN's u stays put, so both paths see the same normalised weights
    with torch.no_grad():
        for p in block.parameters():  # move CBN off its identity init so the classes differ
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(4, 8, 4, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 4, 1])
    out = block(x, y)
    with resample.textbook():
        ref = block(x, y)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    params = [x, *block.parameters()]
    for got, want in zip(_grads(out, params), _grads(ref, params)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("first,down,in_ch", [(True, True, 3), (False, True, 6), (False, False, 6), (False, False, 4)])
def test_dblock_matches_the_conv_then_pool_block(first, down, in_ch):
    torch.manual_seed(3)
    block = DBlock(in_ch, 6, down=down, first=first).double()
    apply_spectral_norm(block)
    block.eval()
    x = torch.randn(4, in_ch, 8, 8, dtype=torch.float64, requires_grad=True)
    out = block(x)
    with resample.textbook():
        ref = block(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    params = [x, *block.parameters()]
    for got, want in zip(_grads(out, params), _grads(ref, params)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_a_traced_up_conv3x3_names_no_device():
    """TorchScript tracing turns a device into a constant: a kernel built with a tensor moved to the
    weight's device ran on CPU only after export. Traced, the kernel is built from the weight alone,
    and equals the eager one."""
    torch.manual_seed(5)
    x, w, b = torch.randn(2, 3, 4, 4), torch.randn(5, 3, 3, 3), torch.randn(5)
    traced = torch.jit.trace(up_conv3x3, (x, w, b))
    nodes = list(traced.graph.nodes())
    constants = [n.output().type().kind() for n in nodes if n.kind() == "prim::Constant"]
    assert "DeviceObjType" not in constants and "TensorType" not in constants, traced.graph  # no device, no CPU tensor
    assert "aten::to" not in [n.kind() for n in nodes]
    torch.testing.assert_close(traced(x, w, b), F.conv2d(F.interpolate(x, scale_factor=2), w, b, padding=1))
    # the traced kernel is summed from padded copies, the eager one by an einsum: the same terms in
    # another order, so float32 agrees to a few ulps of the outputs (|y| up to ~14), not bit for bit
    torch.testing.assert_close(traced(x, w, b), up_conv3x3(x, w, b), rtol=1e-5, atol=1e-5)
    x64, w64, b64 = x.double(), w.double(), b.double()  # the traced formula is exact: float64 agrees to rounding
    torch.testing.assert_close(torch.jit.trace(up_conv3x3, (x64, w64, b64))(x64, w64, b64),
                               F.conv2d(F.interpolate(x64, scale_factor=2), w64, b64, padding=1), rtol=0, atol=1e-12)
