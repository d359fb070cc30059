"""``gancli export``: parse options -> ExportRequest -> gancli.export.export_model."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import RunTarget, command, completer


@command("export", examples=[
    ("gancli export c10 --format torchscript --out g.pt",
     "the run c10's G (its EMA weights if saved) as TorchScript in g.pt, the contract in g.json: "
     "torch.jit.load('g.pt')(z, labels) with torch alone"),
    ("gancli export c10 --format onnx --out g.onnx --no-ema",
     "the raw training weights as ONNX (g.onnx, g.json), for onnxruntime or any ONNX runtime"),
    ("gancli export h2z --format onnx --direction b2a --out b2a.onnx",
     "a CycleGAN run's G_BA: images of domain B in, their translations to A out"),
])
def export_command(
    target: RunTarget = None,
    format: Annotated[str, typer.Option("--format", show_default=False, autocompletion=completer("formats"), help="torchscript (torch alone) or onnx (any ONNX runtime; pip install 'gancli[onnx]') [torchscript].")] = "torchscript",
    out: Annotated[Optional[Path], typer.Option(help="The model file; its JSON contract goes beside it with .json for the suffix (g.pt -> g.json) [RUN/export/FORMAT/NET-stepN.pt|.onnx, e.g. RUN/export/onnx/G_ema-step1600.onnx].")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", help="Export the EMA weights [yes when the checkpoint has them].")] = None,
    direction: Annotated[Optional[str], typer.Option(help="CycleGAN runs: a2b exports G_AB (A -> B), b2a G_BA [a2b].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out and its contract [refuse].")] = False,
) -> None:
    """Export a trained generator as TorchScript or ONNX, with a JSON contract of its inputs and outputs.

    The file runs without gancli: z (N, z_dim) float32 and labels (class indices int64 (N,) or
    attributes float32 (N, k)) in, images (N, C, H, W) float32 in [-1, 1] out, any batch size.
    Spectral norm is baked into the weights, batch norm runs on its running statistics. Before the
    files are put in place, the export is run on fresh inputs and compared with the checkpoint's
    network; the largest difference is printed and written into the contract."""
    from gancli.api import export_generator

    result = export_generator(target, format=format, out=out, ema=ema, direction=direction, force=force)
    ckpt = result.checkpoint
    weights = "EMA" if result.ema else "raw"
    typer.echo(f"using {ckpt.path} ({ckpt.how}; step {ckpt.step}, {weights} weights of {result.network})", err=True)
    typer.echo(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, {result.format}) and {result.contract_path}: "
               f"max abs diff {result.max_abs_diff:.2g} against the checkpoint's {result.network} "
               f"on {result.n_checked} inputs")
