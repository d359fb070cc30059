"""``gancli info``: what a checkpoint or run holds, as a table or as JSON."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from gancli.cli.main import command
from gancli.cli.sample import TARGET_HELP


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "-"
    return "-" if value is None else str(value)


@command("info")
def info_command(
    target: Annotated[Optional[str], typer.Argument(metavar="[CKPT|RUN]", help=TARGET_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")] = False,
) -> None:
    """Describe a checkpoint: model, data, step, classes or attributes, parameter counts, last metrics."""
    from gancli.run_info import checkpoint_info

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
    for key in ("step", "model", "resolution", "ch", "z_dim", "attn_res", "conditioning", "cond_mode", "classes",
                "attributes", "dataset", "dataset_size", "params_G", "params_D", "ema", "loss", "batch_size",
                "lr_g", "lr_d", "steps_planned", "run_dir", "gancli_version"):
        if key in ("classes", "attributes", "cond_mode") and not info[key]:
            continue
        table.add_row(key, _fmt(info[key]))
    for key, value in metrics.items():
        table.add_row(f"last {key}", _fmt(value))
    evaluation = info.pop("last_eval") or {}
    for key in ("fid", "is_mean", "kid_mean", "precision", "recall", "class_accuracy"):
        if key in evaluation:
            table.add_row(f"eval {key} (step {evaluation['step']}, {evaluation.get('feature_extractor')})",
                          _fmt(evaluation[key]))
    Console().print(table)
