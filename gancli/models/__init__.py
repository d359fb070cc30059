"""Models by name: ``build_models(ModelConfig(name="sagan", res=64, n_classes=10))``.

Each entry of ``MODELS`` is a :class:`ModelSpec` saying how to build G and D, which conditioning
modes it supports and its per-model defaults (SN in G, init, attention resolutions).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from torch import nn

from gancli.config import MODEL_REVISION, ModelConfig
from gancli.errors import GancliError
from gancli.layers import INIT_SCHEMES, apply_spectral_norm, init_weights
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
    resolutions: tuple[int, ...] = (32, 64, 128, 256)
    d_norms: tuple[str, ...] = ("sn", "none")  # D normalisations the model's D supports
    autoencoder_d: bool = False  # D(x) is a reconstruction of x (BEGAN, EBGAN), not a logit
    default_d_norm: str | None = None  # D's normalisation when none is asked for (None: sn, or none with --no-sn-d)
    options: tuple[str, ...] = ()  # model options only this model reads (e.g. cyclegan's g_blocks)
    translator: bool = False  # G(x) maps images to images (CycleGAN), instead of G(z, y)
    z_dist: str = "normal"  # the latent prior G is trained on (gancli.config.Z_DISTS)
    baseline_norms: bool = False  # D's bn / ln / wn are the SNGAN paper's baselines (gamma optional: --d-norm-gamma)


MODELS: Registry[ModelSpec] = Registry("model")
GAMMA_NORMS = ("bn", "ln", "wn")  # D normalisations with an optional learnable scale


def _baseline_models() -> list[str]:
    return [name for name in MODELS.names() if MODELS.get(name).baseline_norms]


def resolve_model(cfg: ModelConfig) -> ModelConfig:
    """Validates ``cfg`` against its model and fills the model's own defaults (SN in G, init,
    conditioning mode, attention resolutions); returns a new, fully explicit config. A config this
    returned comes back as it is (``build_network`` gets resolved configs from the loop)."""
    if getattr(cfg, "_resolved", None) == dataclasses.astuple(cfg):
        return cfg
    cfg.check()
    spec = MODELS.get(cfg.name)
    if cfg.res not in spec.resolutions:
        raise GancliError(f"model {cfg.name} supports resolutions {', '.join(map(str, spec.resolutions))}, "
                          f"not {cfg.res}")
    d = cfg.to_dict()
    defaults = ModelConfig()
    for option in sorted({o for name in MODELS.names() for o in MODELS.get(name).options}):  # as the specs declare
        if d[option] is not None and d[option] != getattr(defaults, option) and option not in spec.options:
            raise GancliError(f"--{option.replace('_', '-')} is an option of "
                              f"{', '.join(n for n in MODELS.names() if option in MODELS.get(n).options)}, not of {cfg.name}")
    if d["d_norm"] is None and spec.default_d_norm is not None:
        d["d_norm"] = spec.default_d_norm
    elif d["d_norm"] is None:
        d["d_norm"] = "sn" if cfg.sn_d else "none"
        if d["d_norm"] not in spec.d_norms:  # e.g. began's autoencoder D has no normalisation
            d["d_norm"] = spec.d_norms[0]
    if d["d_norm"] not in spec.d_norms:
        raise GancliError(f"model {cfg.name} supports --d-norm {', '.join(spec.d_norms)}, not {d['d_norm']!r}")
    d["sn_d"] = d["d_norm"] == "sn"
    legacy = cfg.revision < MODEL_REVISION
    if spec.baseline_norms and d["d_norm"] in GAMMA_NORMS:
        if d["d_norm_gamma"] is None:
            d["d_norm_gamma"] = legacy  # revision 1 built them with gamma
    elif d["d_norm_gamma"]:
        raise GancliError(f"--d-norm-gamma applies to D's bn, ln or wn of the models {', '.join(_baseline_models())}"
                          f"; not to {cfg.name} with --d-norm {d['d_norm']}")
    else:
        d["d_norm_gamma"] = None
    if spec.translator:
        if d["z_dist"] is not None:
            raise GancliError(f"--z-dist does not apply to {cfg.name}: its G translates images and draws no z")
    elif d["z_dist"] is None:
        d["z_dist"] = "normal" if legacy else spec.z_dist
    if d["d_ch"] is None:
        d["d_ch"] = cfg.ch
    for key, value in spec.defaults(cfg).items():
        if d.get(key) is None:
            d[key] = value
    if d["cond_mode"] not in spec.cond_modes:
        raise GancliError(
            f"model {cfg.name} supports cond_mode {', '.join(spec.cond_modes)}, not {d['cond_mode']!r}"
        )
    if d["init"] not in INIT_SCHEMES:
        raise GancliError(f"unknown init '{d['init']}'; choose one of: {', '.join(INIT_SCHEMES)}")
    d["attn_res"] = sorted(int(r) for r in d["attn_res"])
    for r in d["attn_res"]:
        if r < 8 or r > cfg.res or r & (r - 1):
            raise GancliError(f"attn_res {r} is not a power-of-two resolution between 8 and {cfg.res}")
    if d["attn_res"] and not spec.has_attention:
        raise GancliError(f"model {cfg.name} has no self-attention; leave attn_res empty")
    resolved = ModelConfig(**d)
    resolved._resolved = dataclasses.astuple(resolved)  # not a field: a changed copy resolves again
    return resolved


def build_network(cfg: ModelConfig | dict, which: str) -> nn.Module:
    """G (``which="G"``) or D of a model config (or the plain dict saved in checkpoints):
    built, initialised, and spectrally normalised where the config says."""
    if isinstance(cfg, dict):
        cfg = ModelConfig.from_dict(cfg)
    cfg = resolve_model(cfg)
    spec = MODELS.get(cfg.name)
    build, sn = {"G": (spec.build_g, cfg.sn_g), "D": (spec.build_d, cfg.sn_d)}[which]
    net = build(cfg)
    init_weights(net, cfg.init)
    if sn:
        apply_spectral_norm(net, target=cfg.sn_target)
    return net


def build_models(cfg: ModelConfig | dict) -> tuple[nn.Module, nn.Module]:
    """(G, D) from a config or the plain dict saved in checkpoints."""
    return build_network(cfg, "G"), build_network(cfg, "D")


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# register the zoo (import for side effects)
# one file per model, named after it (its ModelSpec); the networks in <family>_nets.py (docs/architecture.md)
from gancli.models import dcgan, cnn, sngan, sagan, biggan, began, cyclegan  # noqa: E402,F401,I001  (registry order)
from gancli.models.prior import draw_z  # noqa: E402

__all__ = ["MODELS", "ModelSpec", "build_models", "build_network", "resolve_model", "count_parameters", "draw_z"]
