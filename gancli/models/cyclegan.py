"""``--model cyclegan``: the ResNet translator and the 70x70 PatchGAN of Zhu et al. 2017
(:mod:`gancli.models.cyclegan_nets`), as one model entry for ``--method cyclegan``.

From the model config: ``ch`` is the generator's ngf (64 in the paper), ``d_ch`` the PatchGAN's
ndf (default: ``ch``), ``g_blocks`` the residual blocks (6 at <= 128 px, 9 at 256, as the paper
chooses), ``d_norm`` the PatchGAN's normalisation (``instance`` by default; ``sn`` gives every
conv W / sigma(W), which makes ``gancli sn-check`` meaningful on it), ``channels`` both domains'.
G maps images to images, ``G(x)``: it takes no z and no labels (``z_dim`` is unused).
"""
from __future__ import annotations

from torch import nn

from gancli.config import ModelConfig
from gancli.errors import GancliError
from gancli.models import MODELS, ModelSpec
from gancli.models.cyclegan_nets import PatchDiscriminator, ResnetGenerator


def _refuse_labels(cfg: ModelConfig) -> None:
    if cfg.n_labels:
        raise GancliError("the cyclegan model translates images and takes no labels; train it with --no-cond")


def build_translator(cfg: ModelConfig) -> nn.Module:
    """G: (N, C, H, W) -> (N, C, H, W), ngf = ``ch``, ``g_blocks`` residual blocks."""
    _refuse_labels(cfg)
    return ResnetGenerator(cfg.channels, cfg.channels, ngf=cfg.ch, n_blocks=cfg.g_blocks)


def build_patch_d(cfg: ModelConfig) -> nn.Module:
    """D: (N, C, H, W) -> (N, 1, H/8 - 2, W/8 - 2) patch logits, ndf = ``d_ch``; with d_norm sn the
    convs are left plain here and ``build_network`` wraps them in spectral norm."""
    _refuse_labels(cfg)
    norm = "none" if cfg.d_norm == "sn" else cfg.d_norm
    return PatchDiscriminator(cfg.channels, ndf=cfg.d_ch, norm=norm)


MODELS.register("cyclegan")(ModelSpec(
    name="cyclegan",
    build_g=build_translator,
    build_d=build_patch_d,
    defaults=lambda cfg: {"sn_g": False, "init": "normal", "cond_mode": "proj", "attn_res": [],
                          "g_blocks": 9 if cfg.res >= 256 else 6},
    summary="CycleGAN: ResNet image-to-image G (6/9 blocks), 70x70 PatchGAN D (--method cyclegan)",
    resolutions=(32, 64, 128, 256),
    d_norms=("instance", "bn", "sn", "none"),
    default_d_norm="instance",
    options=("g_blocks",),
    translator=True,
))
