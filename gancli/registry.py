"""A tiny name -> object registry, so every choice can be listed in --help and typos get a hint."""
from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

from gancli.errors import GancliError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects (classes or factory functions).

    >>> MODELS = Registry("model")
    >>> @MODELS.register("dcgan")
    ... def build_dcgan(cfg): ...
    >>> MODELS.get("dcgn")   # GancliError: unknown model 'dcgn'; choose one of: dcgan
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise GancliError(
                f"unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


def closest_names(name: str, names: list[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``names`` closest to ``name`` (ignoring case), best first."""
    lowered = {candidate.lower(): candidate for candidate in names}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)]


def match_names(given: list[str], names: list[str], what: str) -> list[str]:
    """``given`` names as spelled in ``names``, matched ignoring case ("smiling" -> "Smiling"); an
    unknown one is a GancliError suggesting the closest (``what``: e.g. "CelebA attribute")."""
    lowered = {candidate.lower(): candidate for candidate in names}
    matched, unknown = [], []
    for name in given:
        if name.lower() in lowered:
            matched.append(lowered[name.lower()])
        else:
            unknown.append(name)
    if unknown:
        hints = [f"'{name}' (did you mean {' or '.join(closest_names(name, names))}?)" if closest_names(name, names)
                 else f"'{name}'" for name in unknown]
        raise GancliError(f"unknown {what}{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
                          f"valid ones: {', '.join(names)}")
    return matched
