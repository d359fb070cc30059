"""``gancli sample``: parse options -> SampleRequest -> gancli.sampling.sample_to_files."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import DEVICE_HELP, RunTarget, command
from gancli.config import SampleRequest

D = SampleRequest  # the defaults


def parse_truncation(text: Optional[str]) -> Optional[list[float]]:
    from gancli.errors import GancliError

    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise GancliError(f"--truncation takes a number or a comma list such as 2,1,0.5, got {text!r}") from None


@command("sample", examples=[
    ("gancli sample c10 -n 64 --truncation 0.5 --seed 3", "64 images of the run named c10 with the truncation trick at 0.5, into runs/c10/samples/sample-seed3-n64-t0.5.png"),
    ("gancli sample c10 --class all --truncation 2,1,0.5 --out sweep.png", "a truncation sweep: one row per t, the same z in every row"),
    ("gancli sample c10 -n 10000 --npz samples.npz", "10,000 images and their labels for another tool's metrics"),
])
def sample_command(
    target: RunTarget = None,
    n: Annotated[int, typer.Option("-n", "--n", help="Number of images (with --interp: rows).")] = D.n,
    truncation: Annotated[Optional[str], typer.Option(help="Truncate z to |z_i| <= t by resampling; a comma list (2,1,0.5) makes a sweep, one row per t [off].")] = None,
    class_: Annotated[Optional[str], typer.Option("--class", help="Class index or name, a comma list, or 'all' (one row per class) [drawn as in the data].")] = None,
    attrs: Annotated[Optional[str], typer.Option(help="Attribute models: Male,-Smiling sets Male, unsets Smiling; the others drawn as in the data [all drawn as in the data].")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for z and labels: same seed, same images [random, printed].")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", help="Use the EMA weights [yes when the checkpoint has them].")] = None,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    batch_size: Annotated[int, typer.Option(help="Images per G forward; --npz and --individual are written a batch at a time (bounds memory).")] = D.batch_size,
    out: Annotated[Optional[Path], typer.Option(help="Grid PNG to write (at most 4096 images; a file there is replaced). Without it: a name that says what was drawn, in the run's samples/ folder (the current folder for a loose checkpoint), -2, -3 added rather than replace an earlier file; no grid when only --npz / --individual is given [in RUN/samples/].")] = None,
    nrow: Annotated[Optional[int], typer.Option(help="Images per grid row [ceil(sqrt(n))].")] = None,
    individual: Annotated[Optional[Path], typer.Option(help="Also write one PNG per image into this folder [none].")] = None,
    npz: Annotated[Optional[Path], typer.Option(help="Also write images uint8 (N, H, W, 3) and labels to this .npz [none].")] = None,
    interp: Annotated[Optional[int], typer.Option(help="K-step interpolation per row: slerp between two z (and two classes); a grid plus a GIF [none].")] = None,
    labels: Annotated[bool, typer.Option("--labels/--no-labels", help="Name the grid's rows (classes, t values) and what it shows in a white margin; --no-labels: the tiles alone.")] = True,
    scale: Annotated[Optional[int], typer.Option(help="Upscale the grid K times (nearest neighbour); 1: the generator's size. --npz and --individual are never scaled [small tiles to about 64 px].")] = None,
) -> None:
    """Draw images from a trained generator: grids, single files, .npz, truncation sweeps, interpolations.

    On a CycleGAN run: -n test images of each domain, one per row: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b))."""
    from gancli.api import write_samples

    written = write_samples(target, n, truncation=parse_truncation(truncation), classes=class_, attrs=attrs, seed=seed,
                            ema=ema, device=device, batch_size=batch_size, out=out, nrow=nrow, individual=individual,
                            npz=npz, interp=interp, labels=labels, scale=scale)
    typer.echo(f"using {written.checkpoint} ({written.how}; step {written.step}, {'EMA' if written.ema else 'raw'} "
               "weights)", err=True)
    if written.sheet is not None:
        typer.echo(f"wrote {written.sheet}: {written.sheet_rows} test images per domain, columns a, G_AB(a), "
                   f"G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)), {written.res}x{written.res}, seed {written.seed}")
        return
    outputs = written.outputs
    h, w = outputs.image_size
    files = [str(p) for p in (outputs.grid, outputs.gif, outputs.npz) if p is not None]
    if outputs.individual is not None:
        files.append(f"{outputs.individual}/ ({outputs.n_images} PNGs)")
    typer.echo(f"wrote {', '.join(files)}: {outputs.n_images} images, {h}x{w}, seed {written.seed}")
