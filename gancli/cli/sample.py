"""``gancli sample``: parse options -> SampleRequest -> gancli.sampling.sample_to_files."""
from __future__ import annotations

import random
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
    out: Annotated[Optional[Path], typer.Option(help="Grid PNG to write (at most 4096 images; a file there is replaced). Without it: a name that says what was drawn, in the run's samples/ folder (the current folder for a loose checkpoint), -2, -3 added rather than replace an earlier file; no grid when only --npz / --individual is given [RUN/samples/sample-seed{S}-n{N}*.png].")] = None,
    nrow: Annotated[Optional[int], typer.Option(help="Images per grid row [ceil(sqrt(n))].")] = None,
    individual: Annotated[Optional[Path], typer.Option(help="Also write one PNG per image into this folder [none].")] = None,
    npz: Annotated[Optional[Path], typer.Option(help="Also write images uint8 (N, H, W, 3) and labels to this .npz [none].")] = None,
    interp: Annotated[Optional[int], typer.Option(help="K-step interpolation per row: slerp between two z (and two classes); a grid plus a GIF [none].")] = None,
) -> None:
    """Draw images from a trained generator: grids, single files, .npz, truncation sweeps, interpolations.

    On a CycleGAN run: -n test images of each domain, one per row: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b))."""
    from gancli.device import resolve_device
    from gancli.sampling import load_generator, sample_to_files

    req = SampleRequest(n=n, truncation=parse_truncation(truncation), classes=class_, attrs=attrs,
                        seed=random.randrange(2**31) if seed is None else seed, batch_size=batch_size,
                        nrow=nrow, interp=interp)
    req.check()  # bad numbers fail before the checkpoint is even read
    default_grid = out is None and npz is None and individual is None
    from gancli.methods import load_run_checkpoint

    ckpt = load_run_checkpoint(target)
    if ckpt.method.two_domain:
        unused = [flag for flag, value in (("--truncation", truncation), ("--class", class_), ("--attrs", attrs),
                                           ("--interp", interp), ("--npz", npz), ("--individual", individual),
                                           ("--nrow", nrow)) if value is not None]
        sample_translations(ckpt, req, out, unused, ema, device)
        return
    gen = load_generator(ckpt, ema=ema, device=resolve_device(device))
    typer.echo(f"using {gen.path} ({gen.how}; step {gen.step}, {'EMA' if gen.ema else 'raw'} weights)", err=True)
    if default_grid:
        from gancli.sampling.files import default_sample_path

        out = default_sample_path(ckpt, req, no_ema=ckpt.has_ema() and not gen.ema)
    written = sample_to_files(gen, req, out, npz=npz, individual=individual)
    h, w = written.image_size
    files = [str(p) for p in (written.grid, written.gif, written.npz) if p is not None]
    if written.individual is not None:
        files.append(f"{written.individual}/ ({written.n_images} PNGs)")
    typer.echo(f"wrote {', '.join(files)}: {written.n_images} images, {h}x{w}, seed {req.seed}")


def sample_translations(ckpt, req: SampleRequest, out: Optional[Path], unused: list[str], ema, device: str) -> None:
    """``gancli sample`` on a translation run: a sheet of test-set translations and their cycles."""
    from gancli.device import resolve_device
    from gancli.errors import GancliError
    from gancli.sampling import check_writable
    from gancli.sampling.translation import load_translators, translation_sheet
    from gancli.viz.grid import save_grid

    if unused:
        raise GancliError(f"{', '.join(unused)} do not apply to a {ckpt.method.name} run (it translates test images; "
                          "-n sets how many per domain)")
    if out is not None:
        check_writable(out)
    tr = load_translators(None, ema=ema, device=resolve_device(device), checkpoint=ckpt)
    typer.echo(f"using {tr.path} ({ckpt.how}; step {tr.step}, {'EMA' if tr.ema else 'raw'} weights)", err=True)
    if out is None:
        from gancli.sampling.files import default_translation_sheet_path

        out = default_translation_sheet_path(ckpt, req, no_ema=ckpt.has_ema() and not tr.ema)
        check_writable(out)
    sheet = translation_sheet(tr, req.n, req.seed)
    save_grid(sheet, out, nrow=6, scale=2 if tr.res <= 32 else 1)
    typer.echo(f"wrote {out}: {len(sheet) // 6} test images per domain, columns a, G_AB(a), G_BA(G_AB(a)), "
               f"b, G_BA(b), G_AB(G_BA(b)), {tr.res}x{tr.res}, seed {req.seed}")
