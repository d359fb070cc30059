"""Where spectral normalization applies, in one place.

SN (Miyato et al. 2018) replaces a weight W by ``K * W / sigma(W)`` where ``sigma`` is the largest
singular value of W reshaped to (out, in*k*k), estimated by one power iteration per training forward
with persistent vectors u, v (``torch.nn.utils.parametrizations.spectral_norm``). K, the target norm,
is 1 by default: the Lipschitz bound SNGAN tunes.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _torch_spectral_norm

#: module types that carry a weight matrix SN can normalise
SN_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)

#: attribute set on modules that must stay un-normalised (the zero-initialised CBN gain/bias maps: at 0
#: W / sigma(W) is 0 / 0; BigGAN's shared class embedding, which BigGAN leaves plain)
NO_SN_ATTR = "_gancli_no_sn"


class TargetNorm(nn.Module):
    """Multiplies an already normalised weight by K, so that sigma(K * W / sigma) = K."""

    def __init__(self, target: float):
        super().__init__()
        self.target = float(target)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.target


def exempt_from_sn(module: nn.Module) -> nn.Module:
    """Marks ``module`` (and everything inside it) so :func:`apply_spectral_norm` skips it."""
    for m in module.modules():
        setattr(m, NO_SN_ATTR, True)
    return module


def is_spectral_normalized(module: nn.Module) -> bool:
    if not parametrize.is_parametrized(module, "weight"):
        return False
    return any(type(p).__name__ == "_SpectralNorm" for p in module.parametrizations.weight)


def spectral_norm(module: nn.Module, target: float = 1.0, n_power_iterations: int = 1) -> nn.Module:
    """Adds SN (and, if ``target != 1``, a ×K scale after it) to ``module.weight``."""
    _torch_spectral_norm(module, n_power_iterations=n_power_iterations)
    if target != 1.0:
        parametrize.register_parametrization(module, "weight", TargetNorm(target))
    return module


def apply_spectral_norm(net: nn.Module, target: float = 1.0, n_power_iterations: int = 1) -> int:
    """Normalises every conv, transposed conv, linear and embedding of ``net`` not marked exempt.

    Returns the number of layers normalised.
    """
    count = 0
    for module in list(net.modules()):
        if isinstance(module, SN_TYPES) and not getattr(module, NO_SN_ATTR, False):
            if not is_spectral_normalized(module):
                spectral_norm(module, target=target, n_power_iterations=n_power_iterations)
                count += 1
    return count


@contextlib.contextmanager
def power_iteration_off(*nets: nn.Module):
    """Within the block, spectral norm in ``nets`` uses its current u, v without a power iteration
    (as in eval mode) while everything else stays in its mode (batch norm keeps batch statistics):
    the later micro-batches of an accumulated step then see the sigma of the step's first forward."""
    switched = [m for net in nets for m in net.modules() if type(m).__name__ == "_SpectralNorm" and m.training]
    for m in switched:
        m.training = False
    try:
        yield
    finally:
        for m in switched:
            m.training = True


def sn_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every spectrally normalised layer in ``net``."""
    return [(n, m) for n, m in net.named_modules() if is_spectral_normalized(m)]


def raw_weight(module: nn.Module) -> torch.Tensor:
    """The un-normalised weight W that SN divides (the parameter the optimiser updates); for a
    weight-normalised layer (``--d-norm wn``), v of W = g * v / ||v||."""
    if parametrize.is_parametrized(module, "weight"):
        weights = module.parametrizations.weight
        return weights.original1 if hasattr(weights, "original1") else weights.original
    return module.weight
