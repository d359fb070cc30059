"""Entry point: the app of ``cli/app.py`` with every command module registered, in the order of a
workflow (what ``--help`` lists). Nothing imports this module but ``gancli.__main__`` and the
console script."""
from __future__ import annotations

import sys

import typer

from gancli.cli import attn_map, compare, eval, export, info, plot, report, sample, sn_check, train, translate
from gancli.cli.app import app, examples_epilog

#: every command, in the order of a workflow: the order --help lists them
COMMANDS = (train.train_command, sample.sample_command, translate.translate_command, eval.eval_command,
            attn_map.attn_map_command,
            sn_check.sn_check_command, export.export_command, report.report_command, compare.compare_command,
            info.info_command, plot.plot_command)
for _command in COMMANDS:
    app.command(_command.command_name, epilog=examples_epilog(_command.examples) if _command.examples else None)(
        _command.cli_entry)


def main() -> None:
    """Console-script entry point: domain errors become one line on stderr and exit 1."""
    from gancli.errors import GancliError

    try:
        app(standalone_mode=True)
    except GancliError as err:  # raised outside a command's own handling
        typer.secho(f"error: {err}", fg="red", err=True)
        sys.exit(1)


__all__ = ["app", "main", "COMMANDS"]
