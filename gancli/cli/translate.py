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
    from gancli.device import resolve_device
    from gancli.errors import GancliError
    from gancli.sampling.translation import check_direction, describe_skipped, load_translators, translate_files

    check_direction(direction)
    if batch_size < 1:
        raise GancliError(f"--batch-size must be positive, got {batch_size}")
    if not input.exists():
        raise GancliError(f"--input {input} does not exist")
    tr = load_translators(target, ema=ema, device=resolve_device(device))
    typer.echo(f"using {tr.path} ({tr.checkpoint.how}; step {tr.step})", err=True)
    done = translate_files(tr, input, direction, out, sheet=sheet, batch_size=batch_size)
    if done.skipped:
        typer.echo(f"skipped {describe_skipped(done.skipped)}", err=True)
    extra = f" and {done.sheet}" if done.sheet else ""
    typer.echo(f"wrote {len(done.outputs)} translations ({direction}, {done.res}x{done.res}) to {out}/{extra}")
