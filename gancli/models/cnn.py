"""Registers ``cnn``: the SNGAN paper's standard CNN (networks: cnn_nets.py), Xavier init, D
normalisation sn (default), bn, ln, wn or none."""
from gancli.layers.norm import D_NORMS
from gancli.models import MODELS, ModelSpec
from gancli.models.cnn_nets import RESOLUTIONS, CNNDiscriminator, CNNGenerator

MODELS.register("cnn")(ModelSpec(
    name="cnn",
    build_g=CNNGenerator,
    build_d=CNNDiscriminator,
    defaults=lambda cfg: {"sn_g": False, "init": "xavier", "cond_mode": "proj", "attn_res": []},
    cond_modes=("proj",),
    summary="the SNGAN paper's standard CNN (28, 32, 64 px); D normalisation sn, bn, ln, wn or none",
    resolutions=RESOLUTIONS,
    d_norms=D_NORMS,
    baseline_norms=True,
    options=("mbstd",),
))
