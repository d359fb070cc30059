"""``gancli translate``: images through a trained CycleGAN run -> gancli.sampling.translation."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import DEVICE_HELP, RunTarget, command


@command("translate", examples=[
    ("gancli translate h2z --input photos/ --out zebras/", "translate a folder of images A -> B with the CycleGAN run named h2z"),
    ("gancli translate h2z --input zebra.jpg --direction b2a --out horses/ --sheet pairs.png", "one image B -> A, and a sheet of input / output pairs"),
])
def translate_command(
    target: RunTarget = None,
    input: Annotated[Path, typer.Option("--input", "-i", help="An image file, or a folder of images (its image files, sorted) [required].")] = ...,
    out: Annotated[Path, typer.Option(help="New folder for the translations: one PNG per input, named after it [required].")] = ...,
    direction: Annotated[str, typer.Option(help="a2b (G_AB: A -> B) or b2a (G_BA: B -> A).")] = "a2b",
    sheet: Annotated[Optional[Path], typer.Option(help="Also write a PNG of input / translation pairs [none].")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", help="Use the EMA weights [yes when the checkpoint has them].")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per generator forward.")] = 64,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
) -> None:
    """Translate images with a CycleGAN run. Inputs of any size are read as training reads them: the
    centre square, resized to the run's resolution; the translations are written at that resolution."""
    from gancli.api import translate_images
    from gancli.sampling.translation import describe_skipped

    tr, done = translate_images(target, input=input, out=out, direction=direction, sheet=sheet, batch_size=batch_size,
                                ema=ema, device=device)
    typer.echo(f"using {tr.path} ({tr.checkpoint.how}; step {tr.step})", err=True)
    if done.skipped:
        typer.echo(f"skipped {describe_skipped(done.skipped)}", err=True)
    extra = f" and {done.sheet}" if done.sheet else ""
    typer.echo(f"wrote {len(done.outputs)} translations ({direction}, {done.res}x{done.res}) to {out}/{extra}")
