"""The gancli Typer app; the one place where a GancliError becomes one red line and exit code 1."""
from __future__ import annotations

import functools
import sys
from typing import Annotated, Optional

import typer

from gancli import __version__

app = typer.Typer(
    name="gancli",
    help="Train and study self-attention / spectral-norm GANs (DCGAN, SNGAN, SAGAN, BigGAN).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    """Registers a command whose GancliErrors become one red line on stderr and exit code 1.

    Any other exception is a bug and keeps its traceback."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from gancli.errors import GancliError

            try:
                return fn(*args, **kwargs)
            except GancliError as err:
                typer.secho(f"error: {err}", fg="red", err=True)
                raise typer.Exit(1) from None

        app.command(name)(wrapper)
        return fn

    return decorator


# the built commands register themselves on import
# (in the order --help lists them)
from gancli.cli import train as _train  # noqa: E402,F401,I001
from gancli.cli import sample as _sample  # noqa: E402,F401
from gancli.cli import eval as _eval  # noqa: E402,F401
from gancli.cli import attn_map as _attn_map  # noqa: E402,F401
from gancli.cli import sn_check as _sn_check  # noqa: E402,F401
from gancli.cli import info as _info  # noqa: E402,F401
from gancli.cli import plot as _plot  # noqa: E402,F401


def main() -> None:
    """Console-script entry point: domain errors become one line on stderr and exit 1."""
    from gancli.errors import GancliError

    try:
        app(standalone_mode=True)
    except GancliError as err:  # raised outside a command's own handling
        typer.secho(f"error: {err}", fg="red", err=True)
        sys.exit(1)
