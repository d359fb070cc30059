"""The Typer app, the options shared by commands, and the one place where a GancliError becomes
one red line on stderr and exit code 1. Command modules import this; nothing imports them but
``cli/main.py``."""
from __future__ import annotations

import functools
from typing import Annotated, Optional

import typer

from gancli import __version__

app = typer.Typer(
    name="gancli",
    help="Train and study self-attention / spectral-norm GANs (DCGAN, SNGAN, SAGAN, BigGAN).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # "[sagan: 64, quick: 8]" in a help text is a default, not rich markup
)

TARGET_HELP = "Checkpoint file or run directory [the newest run under ./runs]."
DEVICE_HELP = "auto, cpu, cuda, cuda:N, mps."


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gancli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Train and study self-attention / spectral-norm GANs (DCGAN, SNGAN, SAGAN, BigGAN)."""


def command(name: str):
    """Marks a command function: named ``name``, its GancliErrors become one red line on stderr and
    exit code 1 (any other exception is a bug and keeps its traceback). It is not registered here:
    ``cli/main.py`` registers every command in one list, so importing a command module has no side
    effect and ``--help``'s order does not depend on import order."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from gancli.errors import GancliError

            try:
                return fn(*args, **kwargs)
            except GancliError as err:
                typer.secho(f"error: {err}", fg="red", err=True)
                raise typer.Exit(1) from None

        fn.command_name = name
        fn.cli_entry = wrapper
        return fn

    return decorator


def split_list(text: Optional[str]) -> Optional[list[str]]:
    """``"a, b,c"`` -> ["a", "b", "c"]; None stays None."""
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]
