"""The blocks' in-place ReLUs and adds (speed, issue 21) change nothing: value, every gradient and BN's
running statistics equal an out-of-place functional reference written here from the papers' blocks,
in training mode (batch statistics) and in float64."""
import pytest
import torch
import torch.nn.functional as F

from gancli.layers.blocks import DBlock, GBlock
from gancli.layers.cbn import ConditionalBatchNorm2d


def _cbn_reference(cbn: ConditionalBatchNorm2d, x, y, running):
    """BN over the batch (updating the given copies of the running stats), then gamma(y), beta(y)."""
    mean, var = running
    h = F.batch_norm(x, mean, var, None if cbn.kind != "none" else cbn.bn.weight,
                     None if cbn.kind != "none" else cbn.bn.bias, training=True, momentum=0.1, eps=1e-5)
    if cbn.kind == "none":
        return h
    gamma = 1.0 + cbn.gain(y)
    return h * gamma[:, :, None, None] + cbn.bias(y)[:, :, None, None]


def _perturbed(module):
    with torch.no_grad():
        for p in module.parameters():  # off the identity init, so gains and biases matter
            p.add_(0.2 * torch.randn_like(p))
    return module


def _check(out, ref, inputs):
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    g = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(7))
    for got, want in zip(torch.autograd.grad(out, inputs, g, retain_graph=True),
                         torch.autograd.grad(ref, inputs, g)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["none", "class"])
def test_gblock_in_place_equals_out_of_place_reference(kind):
    torch.manual_seed(0)
    block = _perturbed(GBlock(5, 4, kind, 3).double().train())
    x = torch.randn(6, 5, 4, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 2, 1, 1, 0, 2])
    stats = [(m.bn.running_mean.clone(), m.bn.running_var.clone()) for m in (block.bn1, block.bn2)]
    out = block(x, y if kind == "class" else None)
    h = F.relu(_cbn_reference(block.bn1, x, y, stats[0]))
    h = F.conv2d(F.interpolate(h, scale_factor=2, mode="nearest"), block.conv1.weight, block.conv1.bias, padding=1)
    h = F.conv2d(F.relu(_cbn_reference(block.bn2, h, y, stats[1])), block.conv2.weight, block.conv2.bias, padding=1)
    ref = h + F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), block.conv_sc.weight, block.conv_sc.bias)
    _check(out, ref, [x, *block.parameters()])
    for m, (mean, var) in zip((block.bn1, block.bn2), stats):
        torch.testing.assert_close(m.bn.running_mean, mean, rtol=0, atol=1e-14)
        torch.testing.assert_close(m.bn.running_var, var, rtol=0, atol=1e-14)


@pytest.mark.parametrize("norm", ["none", "bn", "ln"])
@pytest.mark.parametrize("first,down,in_ch", [(True, True, 3), (False, True, 6), (False, False, 6), (False, False, 4)])
def test_dblock_in_place_equals_out_of_place_reference(first, down, in_ch, norm):
    torch.manual_seed(1)
    block = _perturbed(DBlock(in_ch, 6, down=down, first=first, norm=norm).double().train())
    x = torch.randn(4, in_ch, 8, 8, dtype=torch.float64, requires_grad=True)
    x_before = x.detach().clone()

    def norm_ref(module, h):
        if isinstance(module, torch.nn.BatchNorm2d):
            return F.batch_norm(h, module.running_mean.clone(), module.running_var.clone(), module.weight,
                                module.bias, training=True)
        if isinstance(module, torch.nn.GroupNorm):
            return F.group_norm(h, 1, module.weight, module.bias, module.eps)
        return h

    # the reference runs first: the block's call then updates BN's running statistics once
    h = x if first else F.relu(norm_ref(block.norm1, x))
    h = F.relu(norm_ref(block.norm2, F.conv2d(h, block.conv1.weight, block.conv1.bias, padding=1)))
    h = F.conv2d(h, block.conv2.weight, block.conv2.bias, padding=1)
    h = F.avg_pool2d(h, 2) if down else h
    if block.learnable_sc:
        sc = F.conv2d(x, block.conv_sc.weight, block.conv_sc.bias)
        sc = F.avg_pool2d(sc, 2) if down else sc
    else:
        sc = x
    ref = h + sc
    out = block(x)
    torch.testing.assert_close(x.detach(), x_before, rtol=0, atol=0)  # the input (the shortcut) is not touched
    _check(out, ref, [x, *block.parameters()])
