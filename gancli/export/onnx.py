"""``--format onnx``: an ONNX model for any ONNX runtime.

    session = onnxruntime.InferenceSession("g.onnx")
    (images,) = session.run(None, {"z": z, "labels": labels})

Exported with ``torch.onnx.export(..., dynamo=True)`` (``torch.export``, then onnxscript's
translation and optimizer, which folds computations on constant weights), the batch axis dynamic
("N", any size >= 1), weights inside the file (no external data: gancli's generators are far below
ONNX's 2 GB limit). It needs ``onnx`` and ``onnxscript`` to export and ``onnxruntime`` for the
check that follows every export: ``pip install 'gancli[onnx]'``.
"""
from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gancli.export.exportable import Signature
from gancli.export.formats import FORMATS, ExportFormat, Runner

#: what --format onnx imports: onnx and onnxscript to export, onnxruntime to check the file
REQUIRES = ("onnx", "onnxscript", "onnxruntime")


def missing_packages() -> list[str]:
    """The packages of ``REQUIRES`` that do not import."""
    missing = []
    for name in REQUIRES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def write_onnx(module: nn.Module, signature: Signature, example: tuple[torch.Tensor, ...], path: Path) -> dict:
    from torch.export import Dim

    batch = Dim("N", min=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the axis name N will not be used ...": one N for every input
        program = torch.onnx.export(module, example, dynamo=True, verbose=False,
                                    dynamic_shapes=tuple({0: batch} for _ in signature.inputs),
                                    input_names=signature.input_names, output_names=[signature.output.name])
        program.save(str(path), external_data=False)
    return {"opset": int(program.model.opset_imports[""]), "torch_version": torch.__version__.split("+")[0]}


def load_onnx(path: Path, signature: Signature) -> Runner:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(*inputs: torch.Tensor) -> torch.Tensor:
        feed = {spec.name: np.ascontiguousarray(x.numpy()) for spec, x in zip(signature.inputs, inputs)}
        (out,) = session.run([signature.output.name], feed)
        return torch.from_numpy(out)

    return run


def _usage(file: str, signature: Signature) -> str:
    feed = ", ".join(f"{name!r}: {name}" for name in signature.input_names)
    return (f"({signature.output.name},) = onnxruntime.InferenceSession({file!r}).run(None, {{{feed}}})")


FORMATS.register("onnx")(ExportFormat(
    name="onnx",
    suffix=".onnx",
    summary="an ONNX model with a dynamic batch axis, for onnxruntime or any ONNX runtime",
    missing=missing_packages,
    write=write_onnx,
    load=load_onnx,
    usage=_usage,
    install="pip install 'gancli[onnx]'",
))
