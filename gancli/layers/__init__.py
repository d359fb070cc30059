"""Building blocks shared by every model."""
from gancli.layers.attention import SelfAttention
from gancli.layers.blocks import DBlock, DCGANDown, DCGANUp, GBlock
from gancli.layers.cbn import ConditionalBatchNorm2d
from gancli.layers.init import INIT_SCHEMES, init_weights, set_init_gain
from gancli.layers.norm import D_NORMS, LayerNorm2d, apply_weight_norm, exempt_from_wn, feature_norm
from gancli.layers.projection import ProjectionHead
from gancli.layers.reflect_res import ReflectResBlock, instance_norm
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
    "is_spectral_normalized", "raw_weight", "sn_layers", "spectral_norm", "set_init_gain", "D_NORMS", "LayerNorm2d",
    "apply_weight_norm", "exempt_from_wn", "feature_norm", "ReflectResBlock", "instance_norm",
]
