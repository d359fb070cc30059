"""Registers ``biggan``: shared class embedding, hierarchical z, attention, orthogonal init (Brock et al. 2019)."""
from gancli.layers.norm import D_NORMS
from gancli.models import MODELS, ModelSpec
from gancli.models.resnet_nets import ResNetDiscriminator, ResNetGenerator

#: BigGAN's attention resolutions (64 at 128 px, as in the paper's 128 px model)
BIGGAN_ATTN = {32: [16], 64: [32], 128: [64], 256: [128]}

MODELS.register("biggan")(ModelSpec(
    name="biggan",
    build_g=lambda cfg: ResNetGenerator(cfg, biggan=True),
    build_d=ResNetDiscriminator,
    defaults=lambda cfg: {"sn_g": True, "init": "ortho", "cond_mode": "proj", "attn_res": BIGGAN_ATTN[cfg.res]},
    has_attention=True,
    summary="BigGAN: shared embedding + hierarchical z into CBN, attention, ortho init",
    d_norms=D_NORMS,
    baseline_norms=True,
    options=("mbstd",),
))
