"""Exported generators (``gancli export``): a trained G, or one of a CycleGAN run's translators, as
a TorchScript or ONNX file that runs without gancli, with a JSON contract beside it.

    result = export_model(ExportRequest("runs/x", format="onnx", out=Path("g.onnx")))
    result.path, result.contract_path, result.max_abs_diff   # g.onnx, g.json, 1e-6

``exportable`` makes the plain module that is traced (spectral norm baked into the weights, eval
mode), ``torchscript`` and ``onnx`` write and load the files (``FORMATS``), ``contract`` writes
what a program without gancli needs to know, and ``exporter`` does it in an order that leaves no
file behind on failure and checks every export against the eager network.
"""
from gancli.export.contract import contract_path
from gancli.config import ExportRequest
from gancli.export.exporter import MAX_ABS_DIFF, ExportResult, export_model
from gancli.export.exportable import plain_copy
from gancli.export.formats import FORMATS, ExportFormat

__all__ = ["FORMATS", "ExportFormat", "ExportRequest", "ExportResult", "MAX_ABS_DIFF", "contract_path",
           "export_model", "plain_copy"]
