"""CycleGAN's building blocks (Zhu et al. 2017, appendix 7.2; Johnson et al. 2016's residual block).

    instance norm:  y = (x - mean(x_c)) / sqrt(var(x_c) + eps)   per sample and channel, over (H, W);
                    no affine and no running statistics (train and eval normalise alike), the
                    reference implementation's default ``--norm instance``
    R_k:            y = x + IN(conv3x3(pad1(ReLU(IN(conv3x3(pad1(x)))))))   with reflection padding
"""
from __future__ import annotations

import torch
from torch import nn


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """``nn.InstanceNorm2d(channels)`` without affine or running statistics (no parameters)."""
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ReflectResBlock(nn.Module):
    """R_k: x: (N, k, H, W) -> (N, k, H, W), ``x + IN(conv(pad(ReLU(IN(conv(pad(x)))))))``.

    Reflection padding of 1 before each 3x3 conv (so borders carry no zero-padding artefacts); the
    convs keep their bias, as the reference has it before instance norm, though IN's mean
    subtraction cancels it (2 * (9 k^2 + k) parameters)."""

    residual = True  # a sum of a main path and a shortcut (sn-check: outside the product bound)

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True), instance_norm(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True), instance_norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


__all__ = ["instance_norm", "ReflectResBlock"]
