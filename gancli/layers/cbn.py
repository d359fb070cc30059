"""Conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018; BigGAN).

    y = gamma(c) * BN(x) + beta(c),   gamma(c) = 1 + W_gamma c,   beta(c) = W_beta c

BN has no affine parameters of its own. ``c`` is either a class index (W is an embedding table,
one row per class) or a dense vector (W is a linear map): a multi-hot attribute vector, or BigGAN's
shared class embedding concatenated with a chunk of z. W_gamma and W_beta start at zero, so the layer
starts as plain BN; they are left out of spectral normalization (as in the official SAGAN code).
"""
from __future__ import annotations

import torch
from torch import nn

from gancli.layers.spectral import exempt_from_sn


def lookup(table: nn.Module, c: torch.Tensor) -> torch.Tensor:
    """``table(c)``, where an embedding table also takes soft class vectors: float ``c (N, n_classes)``
    gives ``c @ table.weight``, the mix of the rows (one-hot rows give exactly ``table(index)``). This
    is how ``gancli sample --interp`` walks between two classes through the class embedding."""
    if isinstance(table, nn.Embedding) and c.is_floating_point():
        return c @ table.weight
    return table(c)


class ConditionalBatchNorm2d(nn.Module):
    """x: (N, C, H, W); c: int64 (N,) class indices (or soft one-hot float (N, n_classes)) when
    ``kind == "class"``, float (N, cond_dim) when ``kind == "vector"``. ``kind == "none"`` is ordinary affine BN and ignores c."""

    def __init__(self, num_features: int, kind: str = "none", cond_dim: int = 0, eps: float = 1e-5,
                 momentum: float = 0.1):
        super().__init__()
        if kind not in ("none", "class", "vector"):
            raise ValueError(f"unknown CBN kind {kind!r}")
        self.kind = kind
        self.bn = nn.BatchNorm2d(num_features, affine=(kind == "none"), eps=eps, momentum=momentum)
        if kind == "class":
            self.gain = nn.Embedding(cond_dim, num_features)
            self.bias = nn.Embedding(cond_dim, num_features)
        elif kind == "vector":
            self.gain = nn.Linear(cond_dim, num_features, bias=False)
            self.bias = nn.Linear(cond_dim, num_features, bias=False)
        if kind != "none":
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
            for m in (self.gain, self.bias):
                exempt_from_sn(m)
                m._gancli_keep_init = True

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if self.kind == "none":
            return h
        if c is None:
            raise ValueError("conditional batch norm needs a condition")
        gamma = 1.0 + lookup(self.gain, c)
        beta = lookup(self.bias, c)
        return h * gamma[:, :, None, None] + beta[:, :, None, None]
