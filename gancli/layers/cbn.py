"""Conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018; BigGAN).

    y = gamma(c) * BN(x) + beta(c),   gamma(c) = 1 + W_gamma c,   beta(c) = W_beta c

BN has no affine parameters of its own. ``c`` is either a class index (W is an embedding table,
one row per class) or a dense vector (W is a linear map): a multi-hot attribute vector, or BigGAN's
shared class embedding concatenated with a chunk of z.

Two kinds of maps W:
- plain (SNGAN, SAGAN, and every class-index CBN): W_gamma and W_beta start at zero, so the layer
  starts as plain BN, and they are left out of spectral normalization (W / sigma(W) is 0 / 0 at
  zero; the official SAGAN code leaves them plain);
- ``learned_maps=True`` (BigGAN, dense c only): bias-free linear maps initialised by the model's
  scheme (orthogonal) and spectrally normalised with the rest of G, as BigGAN-PyTorch's ``ccbn``
  with ``which_linear = SNLinear``.
"""
from __future__ import annotations

import torch
from torch import nn

from gancli.layers.spectral import exempt_from_sn, is_spectral_normalized


def lookup(table: nn.Module, c: torch.Tensor) -> torch.Tensor:
    """``table(c)``, where an embedding table also takes soft class vectors: float ``c (N, n_classes)``
    gives ``c @ table.weight``, the mix of the rows (one-hot rows give exactly ``table(index)``). This
    is how ``gancli sample --interp`` walks between two classes through the class embedding."""
    if isinstance(table, nn.Embedding) and c.is_floating_point():
        return c @ table.weight
    return table(c)


class ConditionalBatchNorm2d(nn.Module):
    """x: (N, C, H, W); c: int64 (N,) class indices (or soft one-hot float (N, n_classes)) when
    ``kind == "class"``, float (N, cond_dim) when ``kind == "vector"``. ``kind == "none"`` is ordinary affine BN and ignores c.
    ``learned_maps`` (vector kind only): BigGAN's maps, initialised and normalised with the model."""

    def __init__(self, num_features: int, kind: str = "none", cond_dim: int = 0, eps: float = 1e-5,
                 momentum: float = 0.1, learned_maps: bool = False):
        super().__init__()
        if kind not in ("none", "class", "vector"):
            raise ValueError(f"unknown CBN kind {kind!r}")
        if learned_maps and kind != "vector":
            raise ValueError("learned CBN maps (BigGAN) take a dense condition: kind 'vector'")
        self.kind = kind
        self.learned_maps = learned_maps
        self.bn = nn.BatchNorm2d(num_features, affine=(kind == "none"), eps=eps, momentum=momentum)
        if kind == "class":
            self.gain = nn.Embedding(cond_dim, num_features)
            self.bias = nn.Embedding(cond_dim, num_features)
        elif kind == "vector":
            self.gain = nn.Linear(cond_dim, num_features, bias=False)
            self.bias = nn.Linear(cond_dim, num_features, bias=False)
        if kind != "none" and not learned_maps:
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
            for m in (self.gain, self.bias):
                exempt_from_sn(m)
                m._gancli_keep_init = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if self.learned_maps and is_spectral_normalized(self.gain) and prefix + "gain.weight" in state_dict:
            # weights saved by gancli before BigGAN's maps were spectrally normalised: they were
            # trained as 1 + W c, and would now run as 1 + (W / sigma(W)) c, a different generator
            raise RuntimeError(f"{prefix}gain.weight is an un-normalised BigGAN CBN map of an older gancli; "
                               "BigGAN's CBN maps are now spectrally normalised (as in BigGAN-PyTorch): train again")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if self.kind == "none":
            return h
        if c is None:
            raise ValueError("conditional batch norm needs a condition")
        gamma = 1.0 + lookup(self.gain, c)
        beta = lookup(self.bias, c)
        # the product is a fresh tensor that nothing saves for backward: add beta into it in place
        return (h * gamma[:, :, None, None]).add_(beta[:, :, None, None])
