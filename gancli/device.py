"""``--device auto|cpu|cuda|cuda:N|mps`` -> a torch.device, or one clear error."""
from __future__ import annotations

import torch

from gancli.errors import GancliError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GancliError("--device cuda was asked for, but no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GancliError("--device mps was asked for, but MPS is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GancliError(f"unknown device '{name}'; choose one of: auto, cpu, cuda, cuda:N, mps") from None
