"""``gancli plot``: a run's loss and metric curves as one PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import RunTarget, command


@command("plot", examples=[
    ("gancli plot demo", "the run's losses, D outputs and evaluations as runs/demo/curves.png"),
    ("gancli plot runs/demo --out demo-curves.png", "the same, to a file of your choice"),
])
def plot_command(
    target: RunTarget = None,
    out: Annotated[Optional[Path], typer.Option(help="PNG to write [RUN/curves.png].")] = None,
) -> None:
    """Draw a run's losses, D outputs and evaluation metrics (from metrics.jsonl) against the step."""
    from gancli import api

    out, drawn = api.plot(target, out)
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} ({n} points)" for k, n in drawn.items()))
