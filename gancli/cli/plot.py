"""``gancli plot``: a run's loss and metric curves as one PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.main import command


@command("plot")
def plot_command(
    target: Annotated[Optional[str], typer.Argument(metavar="[RUN]", help="Run directory (or one of its checkpoints) [the newest run under ./runs].")] = None,
    out: Annotated[Optional[Path], typer.Option(help="PNG to write [RUN/curves.png].")] = None,
) -> None:
    """Draw a run's losses, D outputs and evaluation metrics (from metrics.jsonl) against the step."""
    from gancli.checkpoint import resolve_checkpoint, run_dir_of
    from gancli.errors import GancliError
    from gancli.viz.curves import plot_curves

    if target is not None and (Path(target) / "metrics.jsonl").is_file():
        run = Path(target)
    else:
        checkpoint, _ = resolve_checkpoint(target)
        run = run_dir_of(checkpoint) or checkpoint.parent
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        raise GancliError(f"{run} has no metrics.jsonl to plot")
    out = out or run / "curves.png"
    if out.suffix.lower() != ".png":
        raise GancliError(f"--out {out}: the plot is a PNG; give a .png path")
    drawn = plot_curves(metrics, out, title=run.name)
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} ({n} points)" for k, n in drawn.items()))
