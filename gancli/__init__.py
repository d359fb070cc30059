"""gancli: train and study self-attention / spectral-norm GANs (DCGAN, SNGAN, SAGAN, BigGAN).

The public API is imported lazily so that ``gancli --help`` does not pay for importing torch.
"""
from __future__ import annotations

import importlib

__version__ = "0.2.0"

_LAZY = {
    # the commands as functions (gancli/api.py; docs/api.md)
    "train": "gancli.api",
    "train_config": "gancli.api",
    "load": "gancli.api",
    "LoadedRun": "gancli.api",
    "sample": "gancli.api",
    "translate": "gancli.api",
    "evaluate": "gancli.api",
    "attention_maps": "gancli.api",
    "sn_check": "gancli.api",
    "write_report": "gancli.api",
    "export_generator": "gancli.api",
    "plan_training": "gancli.api",
    "write_samples": "gancli.api",
    "write_attention_maps": "gancli.api",
    "translate_images": "gancli.api",
    "compare": "gancli.api",
    "compare_commands": "gancli.api",
    "collect_study": "gancli.api",
    "info": "gancli.api",
    "plot": "gancli.api",
    # building blocks
    "GancliError": "gancli.errors",
    "ModelConfig": "gancli.config",
    "TrainConfig": "gancli.config",
    "build_models": "gancli.models",
    "build_network": "gancli.models",
    "resolve_model": "gancli.models",
    "get_loss": "gancli.losses",
    "METHODS": "gancli.methods",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gancli' has no attribute {name!r}")
