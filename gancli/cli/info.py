"""``gancli info``: what a checkpoint or run holds, as a table or as JSON."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from gancli.cli.app import RunTarget, command


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "-"
    return "-" if value is None else str(value)


@command("info", examples=[
    ("gancli info demo", "model, data, step, parameter counts and last metrics of the run named demo"),
    ("gancli info runs/demo/checkpoints/step-800.pt --json", "one checkpoint, as JSON"),
])
def info_command(
    target: RunTarget = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table [off].")] = False,
) -> None:
    """Describe a checkpoint: model, data, step, classes or attributes, parameter counts, last metrics."""
    from gancli.inspect.run_info import checkpoint_info

    info = checkpoint_info(target)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{info['checkpoint']} ({info['found_as']})", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    metrics = info.pop("last_metrics") or {}
    evaluation = info.pop("last_eval") or {}
    for key, value in info.items():
        if key in ("checkpoint", "found_as") or (key in ("classes", "attributes", "cond_mode") and not value):
            continue
        table.add_row(key, _fmt(value))
    for key, value in metrics.items():
        table.add_row(f"last {key}", _fmt(value))
    if evaluation:
        from gancli.metrics.registry import format_record

        table.add_row(f"eval (step {evaluation['step']}, {evaluation.get('feature_extractor')})",
                      format_record(evaluation))
    Console().print(table)
