"""A loaded network turned into a plain module with a fixed signature, ready to be traced.

    module = plain_copy(G)                     # SN baked into plain weights, eval mode, CPU float32
    wrapped = GeneratorModule(module, "class") # forward(z, labels) -> images

What is baked in (the network itself is never changed; the copy is):
- spectral norm: every parametrized weight (``W / sigma(W)``, times K when ``sn_target != 1``) is
  replaced by the tensor the eval-mode forward computes, ``W / (u^T W v)`` with the checkpoint's
  stored u and v (no power iteration: ``gancli sample`` runs G in eval mode, so the same tensor);
- batch norm (and conditional BN): eval mode, the running statistics;
- self-attention: the fused form (q and k zero-padded to the values' width, one head, 4-D
  ``scaled_dot_product_attention``), which equals the single-head form (a test checks 1e-5) and is
  the only one ONNX's attention converter takes; its memory grows with H*W, not (H*W)^2.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from gancli.layers.attention import SelfAttention
from gancli.layers.spectral import sn_layers


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of an exported model; ``"N"`` in ``shape`` is the dynamic batch size."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str  # "float32" or "int64"
    about: str

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "about": self.about}


@dataclass(frozen=True)
class Signature:
    """What an exported model takes (in call order) and returns."""

    inputs: tuple[TensorSpec, ...]
    output: TensorSpec

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]


def plain_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` in eval mode, on the CPU in float32, with every parametrization (spectral
    norm, a target-norm scale) replaced by the plain tensor it computes in eval mode, and every
    self-attention block on its fused path. ``net`` itself is left as it was."""
    plain = copy.deepcopy(net).cpu().float().eval().requires_grad_(False)
    for module in list(plain.modules()):
        if parametrize.is_parametrized(module):
            _bake(module)
        if isinstance(module, SelfAttention):
            module.fused = True
    return plain


def _bake(module: nn.Module) -> None:
    """Replaces ``module``'s parametrized tensors by their current (eval-mode) values.

    Not ``parametrize.remove_parametrizations``: it deletes the property from the parametrized
    class, which a deep copy shares with the original, so the original would lose its weight."""
    with torch.no_grad():
        values = {name: getattr(module, name).detach().clone() for name in module.parametrizations}
    module.__class__ = parametrize.type_before_parametrizations(module)
    del module.parametrizations
    for name, value in values.items():
        module.register_parameter(name, nn.Parameter(value, requires_grad=False))


def baked_in(net: nn.Module) -> list[str]:
    """What :func:`plain_copy` fixes in ``net``'s export, in words (for the contract)."""

    sn = len(sn_layers(net))
    others = sum(1 for m in net.modules() if parametrize.is_parametrized(m)) - sn
    bn = sum(1 for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))
    attention = sum(1 for m in net.modules() if isinstance(m, SelfAttention))
    instance = sum(1 for m in net.modules() if isinstance(m, nn.modules.instancenorm._InstanceNorm))
    facts = []
    if sn:
        facts.append(f"spectral norm of {_count(sn, 'layer')}: the weights are W / sigma(W) as the eval-mode forward "
                     "computes them, sigma = u^T W v with the checkpoint's u and v (no power iteration)")
    if others:
        facts.append(f"{_count(others, 'other weight parametrization')}, evaluated once")
    if bn:
        facts.append(f"{_count(bn, 'batch norm')} in eval mode: the checkpoint's running mean and variance")
    if attention:
        facts.append(f"{_count(attention, 'self-attention block')} on the fused path: softmax(q k^T) v (no 1/sqrt(d) "
                     "scaling) as scaled_dot_product_attention with q and k zero-padded to the values' width, one head")
    if instance:
        facts.append(f"{_count(instance, 'instance norm')}: statistics of each image, as in training (nothing stored)")
    return facts


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class GeneratorModule(nn.Module):
    """``forward(z, labels) -> G(z, labels)``: z float32 (N, z_dim); labels int64 (N,) class indices
    or float32 (N, n_attrs) attribute vectors in {0, 1}. Images (N, C, res, res) in [-1, 1]."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.G(z, labels)


class UnconditionalModule(nn.Module):
    """``forward(z) -> G(z)`` for a generator without labels."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z, None)


class TranslatorModule(nn.Module):
    """``forward(images) -> G(images)`` for an image-to-image generator (CycleGAN's G_AB, G_BA)."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.G(images)
