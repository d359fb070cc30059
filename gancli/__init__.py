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
    "build_network": "gancli.models",
    "resolve_model": "gancli.models",
    "get_loss": "gancli.losses",
    "TrainConfig": "gancli.config",
    "train": "gancli.training",
    "load_checkpoint": "gancli.checkpoint",
    "load_run_checkpoint": "gancli.methods",
    "METHODS": "gancli.methods",
    "load_generator": "gancli.sampling",
    "sample": "gancli.sampling",
    "SampleRequest": "gancli.config",
    "evaluate": "gancli.metrics.evaluate",
    "EvalRequest": "gancli.config",
    "attention_maps": "gancli.inspect.attention",
    "AttnRequest": "gancli.config",
    "sn_check": "gancli.inspect.sn_check",
    "SnRequest": "gancli.config",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gancli' has no attribute {name!r}")
