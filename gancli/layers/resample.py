"""Resampling folded into the neighbouring 3x3 convolution: the same functions, fewer FLOPs.

Both rewrites are exact (equal up to float rounding, for any weights), so the parameters, spectral
normalization and the gradients are those of the textbook blocks; only the arithmetic changes.

``up_conv3x3``: conv3x3(nearest_upsample_2x(x)). Output pixel 2i+a (per axis) sees only two
pixels of x, whose taps are sums of rows of the 3x3 kernel W:

    a = 0: x[i-1] * W[0] + x[i] * (W[1] + W[2]);      a = 1: x[i] * (W[0] + W[1]) + x[i+1] * W[2]

which is exactly a transposed convolution, stride 2, padding 1, with the 4-tap kernel
(W[2], W[1] + W[2], W[0] + W[1], W[0]) along each axis. That is 16 HW instead of 36 HW
multiply-adds per channel pair (2.25x fewer), and backward keeps x instead of the 4x larger
upsampled tensor.

``conv3x3_pool``: avg_pool_2x2(conv3x3(x)) is one 4x4 convolution with stride 2, its kernel W
convolved with a 2x2 box / 4: 16 (H/2)(W/2) = 4 HW instead of 9 HW multiply-adds, and the
full-resolution conv output is never made.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

_FOLDED = True


def folded() -> bool:
    """Whether the blocks fold resampling into their convolutions (the default)."""
    return _FOLDED


@contextlib.contextmanager
def textbook():
    """Within this context the blocks run the textbook ops (upsample then conv, conv then pool):
    the reference the tests compare against, and the FLOP count of the published architecture that
    ``benchmarks/train_speed.py`` reports beside the FLOPs actually executed."""
    global _FOLDED
    previous, _FOLDED = _FOLDED, False
    try:
        yield
    finally:
        _FOLDED = previous

# _TAPS[k, u]: how much of 3x3-kernel row u lands on tap k of the equivalent 4-tap transposed kernel
_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def up_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=2), weight, bias, padding=1)`` for a 3x3 ``weight``
    (C_out, C_in, 3, 3), as one transposed convolution of x: (N, C_in, H, W) -> (N, C_out, 2H, 2W)."""
    if torch.jit.is_tracing():
        # gancli export: tracing freezes a device as a constant, so the taps' .to(weight.device)
        # would pin the file to this device; the same kernel from the weight alone holds none.
        # (Training keeps the einsum: equal values, but its gradient sums in another order, and
        # every run's numbers would change in the last bits.)
        flipped = weight.flip(2, 3)  # taps along each axis: (W[2], W[1] + W[2], W[0] + W[1], W[0])
        rows = F.pad(flipped, (0, 0, 0, 1)) + F.pad(flipped, (0, 0, 1, 0))
        kernel = (F.pad(rows, (0, 1)) + F.pad(rows, (1, 0))).transpose(0, 1)
    else:
        taps = _TAPS.to(device=weight.device, dtype=weight.dtype)
        kernel = torch.einsum("ku,oiuv,lv->iokl", taps, weight, taps)  # (C_in, C_out, 4, 4)
    return F.conv_transpose2d(x, kernel, bias, stride=2, padding=1)


def conv3x3_pool(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.avg_pool2d(F.conv2d(x, weight, bias, padding=1), 2)`` as one 4x4, stride-2 convolution."""
    kernel = F.pad(weight, (0, 1, 0, 1)) + F.pad(weight, (1, 0, 0, 1)) \
        + F.pad(weight, (0, 1, 1, 0)) + F.pad(weight, (1, 0, 1, 0))
    return F.conv2d(x, kernel * 0.25, bias, stride=2, padding=1)
