"""Minibatch standard deviation (Karras et al. 2018, ProGAN §3; StyleGAN's ``mbstd``): D sees how
much the images of its batch differ, so a G that draws one image for every z is easy to tell apart.

    h: (N, F) D's features -> groups of g consecutive images (g = gcd(N, group): always a divisor)
    s_k = mean over features of sqrt(Var_group(h) + 1e-8)         one number per group
    out = [h, s_k(i)]: (N, F + 1), every image getting its own group's value

ProGAN and StyleGAN append the statistic as a feature map before D's last conv; gancli appends it to
the pooled features before the output layer (the projection head), which works the same for every D.
Groups are consecutive images, so a D call on [real; fake] (B each, B a multiple of g) never mixes
real and generated images in one group (``gan`` checks that B is a multiple of ``--mbstd``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

EPS = 1e-8


class MinibatchStd(nn.Module):
    def __init__(self, group: int = 4):
        super().__init__()
        if group < 1:
            raise ValueError(f"the group size must be >= 1, got {group}")
        self.group = int(group)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n = h.shape[0]
        g = math.gcd(n, self.group) or 1
        grouped = h.float().reshape(n // g, g, -1)
        std = (grouped.var(dim=1, unbiased=False) + EPS).sqrt().mean(dim=1)  # (N / g,)
        stat = std.repeat_interleave(g).to(h.dtype)[:, None]
        return torch.cat([h, stat], dim=1)

    def extra_repr(self) -> str:
        return f"group={self.group}"


__all__ = ["MinibatchStd"]
