"""``gancli report``: parse options -> RunReportRequest -> gancli.report.write_run_report."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import DEVICE_HELP, RunTarget, command


@command("report", examples=[
    ("gancli report demo", "write runs/demo/report.html: config, curves, samples, evaluation, sweep, "
                           "attention, sn-check"),
    ("gancli report runs/demo/checkpoints/step-800.pt --out step800.html", "the page of an earlier checkpoint"),
    ("gancli report --points '8,8;16,24' --seed 3", "the newest run, other attention query points and images"),
])
def report_command(
    target: RunTarget = None,
    out: Annotated[Optional[Path], typer.Option(help="HTML file to write [RUN/report.html].")] = None,
    points: Annotated[Optional[str], typer.Option(help="Attention query pixels X,Y separated by ';', e.g. 8,8;16,24 [a quarter in, the centre, three quarters in].")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sweep's z and labels, the attention images, the test images and sn-check's images.")] = 0,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
) -> None:
    """Write one self-contained HTML page about a run (images embedded, works offline): its config,
    curves, newest samples and progress GIF, last evaluation, a truncation sweep (CycleGAN: test
    translations), attention maps and the spectral-norm audit."""
    from gancli.api import write_report
    from gancli.report import parse_points

    path = write_report(target, out, points=parse_points(points) if points is not None else [], seed=seed,
                        device=device)
    typer.echo(f"wrote {path} ({_size(path.stat().st_size)})")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"
