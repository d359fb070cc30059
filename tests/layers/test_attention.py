import pytest
import torch

from gancli.layers import SelfAttention


@pytest.fixture
def block():
    attn = SelfAttention(32, pool=True)
    with torch.no_grad():
        attn.gamma.fill_(0.7)
    return attn


def test_gamma_zero_is_identity():
    attn = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert attn.gamma.item() == 0.0
    torch.testing.assert_close(attn(x), x, rtol=0, atol=0)


@pytest.mark.parametrize("pool,keys", [(True, 16), (False, 64)])
def test_map_shape_and_rows_sum_to_one(pool, keys):
    attn = SelfAttention(16, pool=pool)
    x = torch.randn(3, 16, 8, 8)
    _, beta = attn(x, return_attn=True)
    assert beta.shape == (3, 64, keys)
    assert (beta >= 0).all()
    torch.testing.assert_close(beta.sum(-1), torch.ones(3, 64), rtol=0, atol=1e-6)


@pytest.mark.parametrize("fused", [True, False, None])
@pytest.mark.parametrize("pool", [True, False])
def test_fused_path_equals_explicit_softmax(block, pool, fused):
    block.pool = pool
    block.fused = fused
    x = torch.randn(2, 32, 16, 16, requires_grad=True)
    fused = block(x)
    explicit, _ = block(x, return_attn=True)
    torch.testing.assert_close(fused, explicit, rtol=0, atol=1e-5)
    # and the gradients through both paths agree
    (gx_fused,) = torch.autograd.grad(fused.square().sum(), x)
    (gx_explicit,) = torch.autograd.grad(explicit.square().sum(), x)
    torch.testing.assert_close(gx_fused, gx_explicit, rtol=1e-4, atol=1e-4)


def test_explicit_path_matches_hand_computed_formula(block):
    x = torch.randn(1, 32, 4, 4)
    y, beta = block(x, return_attn=True)
    q = block.theta(x).flatten(2)[0].T  # (16, 4)
    k = torch.nn.functional.max_pool2d(block.phi(x), 2).flatten(2)[0].T  # (4, 4)
    v = torch.nn.functional.max_pool2d(block.g(x), 2).flatten(2)[0].T  # (4, 16)
    expected_beta = torch.softmax(q @ k.T, dim=1)  # no 1/sqrt(d)
    torch.testing.assert_close(beta[0], expected_beta, rtol=1e-5, atol=1e-6)
    o = block.out((expected_beta @ v).T.reshape(1, 16, 4, 4))
    torch.testing.assert_close(y, x + 0.7 * o, rtol=1e-5, atol=1e-5)


def test_channel_widths_follow_sagan():
    attn = SelfAttention(64)
    assert attn.theta.out_channels == attn.phi.out_channels == 8
    assert attn.g.out_channels == 32 and attn.out.in_channels == 32 and attn.out.out_channels == 64


def test_fused_path_runs_the_flash_kernel_on_cpu(block):
    """The padded single head only saves memory if SDPA really takes its fused kernel (no silent fallback)."""
    block.fused = None  # chosen by size: a 64x64 map at batch 2 is 32 MiB of attention
    x = torch.randn(3, 32, 64, 64)
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        block(x)
    names = {e.name for e in prof.events()}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in names
    assert "aten::_softmax" not in names


def test_small_maps_take_the_single_softmax_path(block):
    x = torch.randn(2, 32, 16, 16)
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        block(x)
    names = {e.name for e in prof.events()}
    assert "aten::scaled_dot_product_attention" in names
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" not in names


def test_padded_fused_path_equals_explicit_in_float64_with_every_gradient():
    """q and k zero-padded to the values' width leave every logit as it was: the fused path equals
    the explicit softmax(q k^T) v in float64, output and the gradients of x and of all four convs."""
    torch.manual_seed(3)
    block = SelfAttention(64, pool=True, fused=True).double()
    with torch.no_grad():
        block.gamma.fill_(0.9)
    x = torch.randn(2, 64, 32, 32, dtype=torch.float64, requires_grad=True)
    params = [x, *block.parameters()]
    fused = block(x)
    explicit, _ = block(x, return_attn=True)
    torch.testing.assert_close(fused, explicit, rtol=1e-12, atol=1e-12)
    g_fused = torch.autograd.grad(fused.square().sum(), params)
    g_explicit = torch.autograd.grad(explicit.square().sum(), params)
    for a, b in zip(g_fused, g_explicit):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
