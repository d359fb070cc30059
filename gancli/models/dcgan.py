"""Registers ``dcgan`` (networks: dcgan_nets.py): SN in D only, N(0, 0.02) init, cGAN concatenation by default."""
from gancli.layers.norm import D_NORMS
from gancli.models import MODELS, ModelSpec
from gancli.models.dcgan_nets import DCGANDiscriminator, DCGANGenerator

MODELS.register("dcgan")(ModelSpec(
    name="dcgan",
    build_g=DCGANGenerator,
    build_d=DCGANDiscriminator,
    defaults=lambda cfg: {"sn_g": False, "init": "normal", "cond_mode": "concat", "attn_res": []},
    cond_modes=("concat", "proj"),
    summary="DCGAN with strided convs (28-256 px); D norm sn (default), bn, ln, wn or none; cGAN concat or projection",
    resolutions=(28, 32, 64, 128, 256),
    d_norms=D_NORMS,
    baseline_norms=True,
    options=("mbstd",),
))
