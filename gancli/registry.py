"""A tiny name -> object registry, so every choice can be listed in --help and typos get a hint."""
from __future__ import annotations

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
