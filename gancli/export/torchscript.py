"""``--format torchscript``: a traced module that ``torch.jit.load`` runs without gancli.

    G = torch.jit.load("g.pt")
    images = G(z, labels)        # or G(z) for an unconditional model, G(images) for a translator

The module is traced (``torch.jit.trace``) at a batch of 2 on the CPU: every shape but the batch is
fixed, and the file runs on the CPU (the ResNet generators' folded upsampling records the CPU as
the device of a constant kernel, see docs/export.md).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from torch import nn

from gancli.export.exportable import Signature
from gancli.export.formats import FORMATS, ExportFormat, Runner


def _missing() -> list[str]:
    return []  # torch alone


def write_torchscript(module: nn.Module, signature: Signature, example: tuple[torch.Tensor, ...], path: Path) -> dict:
    with warnings.catch_warnings():
        # TracerWarnings (Python numbers read off shapes; the check after export runs other batch
        # sizes) and torch.jit's deprecation notice are not the user's business
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(module, example, check_trace=False)
        buffer = io.BytesIO()  # saved in memory, written by Python: a full disk is an OSError, not a C++ abort
        torch.jit.save(traced, buffer)
    with open(path, "wb") as f:
        f.write(buffer.getbuffer())
    return {"torch_version": torch.__version__.split("+")[0]}


def load_torchscript(path: Path, signature: Signature) -> Runner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
        module = torch.jit.load(str(path), map_location="cpu")

    def run(*inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return module(*inputs)

    return run


def _usage(file: str, signature: Signature) -> str:
    return f"{signature.output.name} = torch.jit.load({file!r})({', '.join(signature.input_names)})"


FORMATS.register("torchscript")(ExportFormat(
    name="torchscript",
    suffix=".pt",
    suffixes=(".pth", ".ts", ".torchscript"),
    summary="a traced TorchScript module: torch.jit.load(path)(z, labels), torch alone",
    missing=_missing,
    write=write_torchscript,
    load=load_torchscript,
    usage=_usage,
))
