"""Weight initialisation schemes, applied before spectral normalization wraps the weights.

``xavier`` is Xavier-uniform (Glorot & Bengio 2010), ``U(-b, b)`` with
``b = gain * sqrt(6 / (fan_in + fan_out))``. Its gain is per layer, as in SNGAN's chainer code
(and mimicry): sqrt(2) on the 3x3 convs of the residual blocks, 1 on their 1x1 shortcuts and on
every other layer. A block says so by marking its convs (:func:`set_init_gain`); the other
schemes ignore the mark.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from gancli.layers.norm import is_weight_normalized, reset_weight_norm

INIT_SCHEMES = ("ortho", "xavier", "normal", "default")
#: attribute a module carries to ask the xavier scheme for a gain other than 1
INIT_GAIN_ATTR = "_gancli_init_gain"
#: attribute of modules whose own initialisation must stay (CBN gain/bias maps that start at 0)
KEEP_INIT_ATTR = "_gancli_keep_init"

RELU_GAIN = math.sqrt(2.0)


def set_init_gain(module: nn.Module, gain: float) -> nn.Module:
    """Marks ``module`` for Xavier init with ``gain`` (SNGAN: sqrt(2) for a residual block's 3x3 convs)."""
    setattr(module, INIT_GAIN_ATTR, float(gain))
    return module


def _weight_to_init(m: nn.Module) -> torch.Tensor:
    """The parameter behind ``m.weight``: the weight itself, the raw weight of a parametrization,
    or v of weight norm (whose g is then reset to ||v||, so that the weight used is v)."""
    if not parametrize.is_parametrized(m, "weight"):
        return m.weight
    plist = m.parametrizations.weight
    return plist.original1 if hasattr(plist, "original1") else plist.original


def init_weights(net: nn.Module, scheme: str) -> None:
    """ortho: orthogonal (BigGAN); xavier: Xavier-uniform with each layer's gain (SNGAN); normal:
    N(0, 0.02) (DCGAN); default: PyTorch's. Biases start at 0. Modules flagged ``_gancli_keep_init``
    (CBN gain/bias maps, which must start at 0) are left alone."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; choose one of {INIT_SCHEMES}")
    if scheme == "default":
        return
    for m in net.modules():
        if getattr(m, KEEP_INIT_ATTR, False):
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            weight = _weight_to_init(m)
            if scheme == "ortho":
                nn.init.orthogonal_(weight)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(weight, gain=getattr(m, INIT_GAIN_ATTR, 1.0))
            else:
                nn.init.normal_(weight, 0.0, 0.02)
            if is_weight_normalized(m):
                reset_weight_norm(m)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
