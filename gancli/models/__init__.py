"""Models by name: ``build_models(ModelConfig(name="sagan", res=64, n_classes=10))``.

Each entry of ``MODELS`` is a :class:`ModelSpec` saying how to build G and D, which conditioning
modes it supports and its per-model defaults (SN in G, init, attention resolutions).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from gancli.config import ModelConfig
from gancli.layers import apply_spectral_norm, init_weights
from gancli.registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build_g: Callable[[ModelConfig], nn.Module]
    build_d: Callable[[ModelConfig], nn.Module]
    defaults: Callable[[ModelConfig], dict]
    cond_modes: tuple[str, ...] = ("proj",)
    has_attention: bool = False
    summary: str = ""


MODELS: Registry[ModelSpec] = Registry("model")


def build_generator(cfg: ModelConfig) -> nn.Module:
    cfg = cfg.resolve()
    g = MODELS.get(cfg.name).build_g(cfg)
    init_weights(g, cfg.init)
    if cfg.sn_g:
        apply_spectral_norm(g, target=cfg.sn_target)
    return g


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    cfg = cfg.resolve()
    d = MODELS.get(cfg.name).build_d(cfg)
    init_weights(d, cfg.init)
    if cfg.sn_d:
        apply_spectral_norm(d, target=cfg.sn_target)
    return d


def build_models(cfg: ModelConfig | dict) -> tuple[nn.Module, nn.Module]:
    """(G, D) from a config or the plain dict saved in checkpoints; both carry ``.config``."""
    if isinstance(cfg, dict):
        cfg = ModelConfig.from_dict(cfg)
    cfg = cfg.resolve()
    return build_generator(cfg), build_discriminator(cfg)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# register the zoo (import for side effects)
from gancli.models import dcgan_spec, sngan, sagan, biggan  # noqa: E402,F401,I001  (registry order)

__all__ = ["MODELS", "ModelSpec", "build_models", "build_generator", "build_discriminator", "count_parameters"]
