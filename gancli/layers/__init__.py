"""Building blocks shared by every model."""
from gancli.layers.attention import SelfAttention
from gancli.layers.blocks import DBlock, DCGANDown, DCGANUp, GBlock
from gancli.layers.cbn import ConditionalBatchNorm2d
from gancli.layers.init import INIT_SCHEMES, init_weights
from gancli.layers.projection import ProjectionHead
from gancli.layers.spectral import (
    apply_spectral_norm,
    exempt_from_sn,
    is_spectral_normalized,
    raw_weight,
    sn_layers,
    spectral_norm,
)

__all__ = [
    "SelfAttention", "GBlock", "DBlock", "DCGANUp", "DCGANDown", "ConditionalBatchNorm2d",
    "ProjectionHead", "INIT_SCHEMES", "init_weights", "apply_spectral_norm", "exempt_from_sn",
    "is_spectral_normalized", "raw_weight", "sn_layers", "spectral_norm",
]
