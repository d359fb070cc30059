"""gancli: train and study self-attention / spectral-norm GANs (DCGAN, SNGAN, SAGAN, BigGAN).

The public API is imported lazily so that ``gancli --help`` does not pay for importing torch.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "GancliError": "gancli.errors",
    "ModelConfig": "gancli.config",
    "build_models": "gancli.models",
    "build_generator": "gancli.models",
    "build_discriminator": "gancli.models",
    "get_loss": "gancli.losses",
    "TrainConfig": "gancli.config",
    "train": "gancli.training",
    "load_checkpoint": "gancli.checkpoint",
    "load_generator": "gancli.sampling",
    "sample": "gancli.sampling",
    "SampleRequest": "gancli.sampling",
    "evaluate": "gancli.metrics.evaluate",
    "EvalRequest": "gancli.metrics.evaluate",
    "attention_maps": "gancli.attention_maps",
    "AttnRequest": "gancli.attention_maps",
    "sn_check": "gancli.metrics.sn_check",
    "SnRequest": "gancli.metrics.sn_check",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gancli' has no attribute {name!r}")
