"""Registers ``began``: BEGAN's generator and autoencoder D (networks: began_nets.py), for the
``began`` and ``ebgan`` methods; unconditional, z ~ U[-1, 1]."""
from gancli.models import MODELS, ModelSpec
from gancli.models.began_nets import BEGANDiscriminator, BEGANGenerator

MODELS.register("began")(ModelSpec(
    name="began",
    build_g=BEGANGenerator,
    build_d=BEGANDiscriminator,
    # Xavier (the papers name none; TF-slim's conv layers, which the widely used BEGAN-tensorflow
    # port builds on, default to it): at 64 px, ch 64, G's pre-tanh output has std 0.14; N(0, 0.02) shrinks it to 2e-4
    # through the plain stack of 3x3 convs, and D's reconstruction to 4e-7
    defaults=lambda cfg: {"sn_g": False, "init": "xavier", "cond_mode": "proj", "attn_res": []},
    summary="BEGAN: ELU conv decoder as G, conv autoencoder as D (BEGAN, EBGAN); unconditional",
    resolutions=(28, 32, 64, 128),
    d_norms=("none",),
    autoencoder_d=True,
    z_dist="uniform",  # Berthelot et al. 2017: z ~ U[-1, 1] (and EBGAN's reference code draws uniform z too)
))
