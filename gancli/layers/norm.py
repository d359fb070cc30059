"""D's normalisation other than spectral norm: the baselines of Miyato et al. 2018 (``--d-norm``).

    bn:  y = (x - mean_B) / sqrt(var_B + eps) + beta             per channel, statistics over (N, H, W)
         of the batch D is called on (train mode) or the running averages (eval mode)
    ln:  y = (x - mean(x)) / sqrt(var(x) + eps) + beta           per sample, statistics over (C, H, W);
         beta per channel (Ba et al. 2016 over all of a sample's units, with the per-channel
         offset of the WGAN-GP critic's layer norm, so one D works at every resolution)
    wn:  W = v / ||v||                                            per output channel (Salimans & Kingma
         2016 with the gain g fixed at 1), on every conv and linear layer of D
    sn:  W / sigma(W), applied by ``gancli.models.build_network`` (``gancli.layers.spectral``)
    none: nothing

Without a learnable scale gamma (g for wn), as the SNGAN paper's baselines (Miyato et al. 2018, §4.1)
and chainer-gan-lib's BN discriminators (``use_gamma=False``) have them: a per-channel gamma would let D
undo the normalisation's scale, which is what the comparison holds fixed. ``gamma=True``
(``--d-norm-gamma``) adds it back: y = gamma * (...) + beta, W = g * v / ||v|| (torch's
``weight_norm``), as gancli 0.1 built them (model config revision 1).

BN and LN follow every conv of D but the first (as DCGAN and the SNGAN paper's baselines place BN),
before the activation; the final linear layer has none. Under the ``gan`` method BN's statistics are
those of one D call: the joint pass over [real; fake] (2B images), each half alone under ``--split-d``,
the B fakes of the G step, and each rank's own share under DDP (the global batch with ``--sync-bn``).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm as _torch_weight_norm

D_NORMS = ("sn", "bn", "ln", "wn", "none")
#: the layer types weight norm applies to ("every conv and linear of D")
WN_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
#: attribute set on modules weight norm must skip (a projection D's label embedding V acts on y, not x)
NO_WN_ATTR = "_gancli_no_wn"


class LayerNorm2d(nn.GroupNorm):
    """Layer norm of x: (N, C, H, W) over (C, H, W) per sample, with a per-channel offset beta
    (0 at init) and, with ``gamma``, a per-channel scale (1 at init). One group of all channels is
    exactly that, so this is ``nn.GroupNorm(1, C)`` under the name it has in the SNGAN paper."""

    def __init__(self, channels: int, eps: float = 1e-5, gamma: bool = True):
        super().__init__(1, channels, eps=eps, affine=True)
        if not gamma:
            _drop_scale(self)


def _drop_scale(norm: nn.Module) -> nn.Module:
    """Removes the learnable scale of an affine BN / GN layer (``weight``), keeping its offset: torch's
    batch_norm and group_norm take ``weight=None`` as a scale of 1."""
    del norm.weight
    norm.register_parameter("weight", None)
    return norm


def feature_norm(kind: str, channels: int, gamma: bool = True) -> nn.Module:
    """The layer that follows one of D's convs for ``--d-norm kind``: BN, LN (with a learnable scale
    only if ``gamma``), or nothing (``nn.Identity``, no parameters: sn, wn and none act on weights
    or not at all)."""
    if kind not in D_NORMS:
        raise ValueError(f"unknown D normalisation {kind!r}; choose one of {D_NORMS}")
    if kind == "bn":
        bn = nn.BatchNorm2d(channels)
        return bn if gamma else _drop_scale(bn)
    if kind == "ln":
        return LayerNorm2d(channels, gamma=gamma)
    return nn.Identity()


class UnitNorm(nn.Module):
    """The parametrization W = v / ||v||, the norm over every dim but 0 (one per output channel of a
    conv or linear layer; dim 1 for a transposed conv): weight norm with its gain fixed at 1."""

    def __init__(self, dim: int = 0):
        super().__init__()
        self.dim = dim

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return v / torch.norm_except_dim(v, 2, self.dim)


def exempt_from_wn(module: nn.Module) -> nn.Module:
    for m in module.modules():
        setattr(m, NO_WN_ATTR, True)
    return module


def is_weight_normalized(module: nn.Module) -> bool:
    if not parametrize.is_parametrized(module, "weight"):
        return False
    return any(isinstance(p, UnitNorm) or type(p).__name__ == "_WeightNorm" for p in module.parametrizations.weight)


def apply_weight_norm(net: nn.Module, gamma: bool = True) -> int:
    """Weight norm on every conv, transposed conv and linear layer of ``net`` not marked exempt:
    ``W = g * v / ||v||`` (torch's ``weight_norm``, norm per output channel, dim 0) with ``gamma``,
    else ``W = v / ||v||`` (``UnitNorm``). Returns the number of layers."""
    count = 0
    for module in list(net.modules()):
        if isinstance(module, WN_TYPES) and not getattr(module, NO_WN_ATTR, False) and not is_weight_normalized(module):
            if gamma:
                _torch_weight_norm(module)
            else:
                parametrize.register_parametrization(module, "weight", UnitNorm(0))
            count += 1
    return count


def wn_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in net.named_modules() if is_weight_normalized(m)]


def reset_weight_norm(module: nn.Module) -> None:
    """Sets g = ||v|| per output channel, so that the weight used equals v (call after re-initialising
    v); a layer without g (``UnitNorm``) has nothing to reset."""
    found = [p for p in module.parametrizations.weight if type(p).__name__ == "_WeightNorm"]
    if not found:
        return
    (wn,) = found
    with torch.no_grad():
        v = module.parametrizations.weight.original1
        module.parametrizations.weight.original0.copy_(torch.norm_except_dim(v, 2, wn.dim))


def norm_layers(net: nn.Module) -> dict[str, list[str]]:
    """Names of D's feature-normalisation layers by kind: {"bn": [...], "ln": [...], "wn": [...]}."""
    return {"bn": [n for n, m in net.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)],
            "ln": [n for n, m in net.named_modules() if isinstance(m, LayerNorm2d)],
            "wn": [n for n, _ in wn_layers(net)]}


__all__ = ["D_NORMS", "LayerNorm2d", "UnitNorm", "feature_norm", "apply_weight_norm", "exempt_from_wn", "is_weight_normalized",
           "wn_layers", "reset_weight_norm", "norm_layers"]
