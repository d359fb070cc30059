"""Registers ``sngan``: the ResNet SNGAN of Miyato et al. 2018 (SN in D only, projection D)."""
from gancli.layers.norm import D_NORMS
from gancli.models import MODELS, ModelSpec
from gancli.models.resnet_nets import ResNetDiscriminator, ResNetGenerator

MODELS.register("sngan")(ModelSpec(
    name="sngan",
    build_g=ResNetGenerator,
    build_d=ResNetDiscriminator,
    defaults=lambda cfg: {"sn_g": False, "init": "xavier", "cond_mode": "proj", "attn_res": []},
    summary="ResNet G/D, SN in D, CBN + projection",
    d_norms=D_NORMS,
    baseline_norms=True,
    options=("mbstd",),
))
