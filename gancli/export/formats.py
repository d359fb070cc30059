"""Export formats by name (``gancli export --format``), in the style of the other registries.

Each :class:`ExportFormat` says which packages it needs, how to write a traced module to a file and
how to load that file back to run it (the check after every export); ``torchscript`` and ``onnx``
register themselves from their own modules.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from gancli.export.exportable import Signature
from gancli.registry import Registry

#: runs an exported file: the inputs (in the signature's order) -> the output, a float32 CPU tensor
Runner = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # the usual file suffix (".pt", ".onnx"); the default --out ends in it
    summary: str
    missing: Callable[[], list[str]]  # the packages it needs that cannot be imported
    write: Callable[[nn.Module, Signature, tuple[torch.Tensor, ...], Path], dict]  # -> facts for the contract
    load: Callable[[Path, Signature], Runner]
    usage: Callable[[str, Signature], str]  # one line of Python that runs the file (for the contract)
    suffixes: tuple[str, ...] = ()  # other suffixes that name this format (to catch --out g.onnx --format torchscript)
    install: str = ""  # how to install what ``missing`` reports


FORMATS: Registry[ExportFormat] = Registry("export format")


def format_of_suffix(path: Path) -> ExportFormat | None:
    """The registered format whose suffix ``path`` ends in, if any."""
    suffix = path.suffix.lower()
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        if suffix in (fmt.suffix, *fmt.suffixes):
            return fmt
    return None


# register the formats (import for side effects)
from gancli.export import torchscript, onnx  # noqa: E402,F401,I001  (registry order: torchscript first)
