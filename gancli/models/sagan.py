"""Registers ``sagan``: ResNet SNGAN + self-attention, SN in G and D (Zhang et al. 2019)."""
from gancli.layers.norm import D_NORMS
from gancli.models import MODELS, ModelSpec
from gancli.models.resnet_nets import ResNetDiscriminator, ResNetGenerator

#: SAGAN's default attention: 32x32 maps at 128 px (and 256 px: 64), 16x16 at 32 and 64 px
SAGAN_ATTN = {32: [16], 64: [16], 128: [32], 256: [64]}

MODELS.register("sagan")(ModelSpec(
    name="sagan",
    build_g=ResNetGenerator,
    build_d=ResNetDiscriminator,
    defaults=lambda cfg: {"sn_g": True, "init": "ortho", "cond_mode": "proj", "attn_res": SAGAN_ATTN[cfg.res]},
    has_attention=True,
    summary="ResNet G/D + self-attention, SN in G and D, CBN + projection",
    d_norms=D_NORMS,
    baseline_norms=True,
    options=("mbstd",),
))
