"""``--device auto|cpu|cuda|cuda:N|mps`` -> a torch.device, or one clear error; and the allocator
setting every command makes at start (``keep_freed_memory``). Imports torch only when resolving a
device, so ``gancli CMD --help`` stays fast."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gancli.errors import GancliError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    import torch

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


#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT: bool | None = None


def keep_freed_memory() -> bool:
    """Lets glibc's malloc keep freed memory for the next allocation instead of returning it to the
    kernel; True where that is now in effect (Linux with glibc), False elsewhere or when
    ``GANCLI_KEEP_MEMORY=0``. Idempotent; the commands call it once at start.

    On CPU every activation of a training step is a fresh tensor of megabytes. glibc serves such
    blocks with mmap and unmaps them on free, so the next step's tensor of the same size is new pages
    again: the kernel zero-fills each 4 KiB page on first touch (about 550,000 page faults and
    0.8 s of system time per iteration of the reference SAGAN-32 config, 12,000 per step of the quick
    preset). With the mmap and trim thresholds raised to their maximum, freed blocks go back to the
    heap and are reused: the same arithmetic, 10-14% less time per iteration (benchmarks/
    train_speed.py --malloc). The cost: memory freed at the end of a step is not returned to the OS
    until the process ends, and the heap's fragmentation makes the peak about a quarter higher
    (docs/training.md, "Where an iteration's time goes on CPU").
    A process-wide setting, so the Python API leaves it to the caller."""
    global _KEPT
    if _KEPT is not None:
        return _KEPT
    import ctypes
    import os
    import sys

    _KEPT = False
    if os.environ.get("GANCLI_KEEP_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return _KEPT
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only: musl has no mallopt with these meanings
    except (OSError, AttributeError):
        return _KEPT
    biggest = ctypes.c_int(2**31 - 1)
    _KEPT = bool(libc.mallopt(_M_MMAP_THRESHOLD, biggest)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, biggest))
    return _KEPT
