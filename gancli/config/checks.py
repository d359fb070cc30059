"""Value checks shared by every config: types against annotations, ranges, the bounds of options,
and the defaults of dataclass fields (for help texts and signatures).
"""
from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from gancli.errors import GancliError


MAX_TRAIN_SEED = 2**32 - 1  # numpy's and torch's generators take it whole (torch's seeds reach seed x 1000 + rank)
MAX_DATA_SIZE = 10_000_000  # images: shapes draws this many scenes; a subset of a dataset is at most the dataset
MAX_WIDTH = 2048  # --ch, --d-ch: BigGAN-deep's widest is 2048 at ch 128; beyond is a typo
MAX_Z_DIM = 16384  # StyleGAN's z is 512, BigGAN's 120-128
RESOLUTIONS = (28, 32, 64, 128, 256)  # 28: MNIST's own size, for the models that support it
RUNS_ROOT = Path("runs")  # where `gancli train` puts runs by default (relative to the working directory)
MIN_TRUNCATION = 0.01  # resampling needs ~1/P(|z| <= t) rounds per entry: 0.01 keeps it well under a second


def check_truncation(t: float | None) -> None:
    """The one check of a truncation threshold t (|z_i| <= t by resampling)."""
    if t is None:
        return
    if not t > 0:
        raise GancliError(f"--truncation must be positive, got {t:g}")
    if t < MIN_TRUNCATION:
        raise GancliError(f"--truncation {t:g} is too small; use at least {MIN_TRUNCATION}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


_SCALARS = {"int": int, "float": (int, float), "bool": bool, "str": str}


def _value_fits(value: Any, annotation: str) -> bool:
    """Whether ``value`` has the type a field annotation (as a string) names: int, float, bool, str,
    list[...] and "X | None" (bool is no int here: ``steps: true`` is nonsense)."""
    for option in (a.strip() for a in annotation.split("|")):
        if option == "None" and value is None:
            return True
        if option.startswith("list[") and isinstance(value, list):
            inner = option[5:-1]
            if all(_value_fits(v, inner) for v in value):
                return True
        elif option in _SCALARS and not (isinstance(value, bool) and option != "bool"):
            if isinstance(value, _SCALARS[option]):
                return True
    return False


def check_types(obj: Any) -> None:
    """Every field of dataclass ``obj`` holds a value of its annotated type (configs read from JSON
    or from a checkpoint can hold anything)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.type in _SCALARS or "|" in f.type or f.type.startswith("list["):
            if not _value_fits(value, f.type):
                flag = "--model" if (type(obj).__name__, f.name) == ("ModelConfig", "name") else _flag(f.name)
                raise GancliError(f"{flag} must be {f.type.replace(' | None', ' or none')}, got {value!r}")



def with_hints(unknown, known) -> str:
    """Unknown option names, each with the closest known ones: ``stepz (did you mean steps?)``."""
    known = sorted(known)
    shown = []
    for name in unknown:
        close = difflib.get_close_matches(str(name), known, n=2, cutoff=0.7)
        shown.append(f"{name} (did you mean {' or '.join(close)}?)" if close else str(name))
    return ", ".join(shown)


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (for help texts and CLI signatures)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise KeyError(name)
