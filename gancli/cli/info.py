"""``gancli info``: what a checkpoint or run holds, as a table or as JSON."""
from __future__ import annotations

import json
from typing import Annotated

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
    """Describe a checkpoint: preset, model and the options changed from its defaults, data, step, classes or
    attributes, parameter counts, training wall time, last metrics and evaluation."""
    from gancli import api

    info = api.info(target)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from gancli.viz.units import format_seconds
    from gancli.metrics.registry import caveats, format_record

    table = Table(title=f"{info['checkpoint']} ({info['found_as']})", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    metrics = info.pop("last_metrics") or {}
    evaluation = info.pop("last_eval") or {}
    for key, value in info.items():
        if key in ("checkpoint", "found_as") or (key in ("classes", "attributes", "cond_mode", "preset") and not value):
            continue
        if key == "model_changes":
            table.add_row("non-default model options", _changes(value))
        elif key == "train_seconds":
            table.add_row("training wall time", format_seconds(value))
        else:
            table.add_row(key, _fmt(value))
    for key, value in metrics.items():
        if key == "time":  # this process's clock: "training wall time" above sums the processes
            continue
        table.add_row(f"last {key}", f"{value:,.0f} img/s" if key == "img_s" and isinstance(value, (int, float))
                      else _fmt(value))
    if evaluation:
        how = [f"n={evaluation['n']:,}" if isinstance(evaluation.get("n"), int) else None,
               format_seconds(evaluation["seconds"]) if isinstance(evaluation.get("seconds"), (int, float)) else None]
        how = "; ".join(part for part in how if part)
        table.add_row(f"eval (step {evaluation['step']}, {evaluation.get('feature_extractor')})",
                      format_record(evaluation) + (f" ({how})" if how else ""))
    console = Console()
    console.print(table)
    for note in caveats(evaluation):
        console.print(f"note: {note}", highlight=False)


def _changes(changes: dict) -> str:
    """``ch 8 (default 64), d_ch 24 (default: as ch)``; ``none`` when every choice is the default."""
    if not changes:
        return "none"
    def show(value) -> str:
        return "none" if value == [] else _fmt(value)

    return ", ".join(f"{key} {show(c['value'])} (default {'as ch' if key == 'd_ch' else show(c['default'])})"
                     for key, c in changes.items())
