"""The Typer app, the options shared by commands, and the one place where a GancliError becomes
one red line on stderr and exit code 1. Command modules import this; nothing imports them but
``cli/main.py``."""
from __future__ import annotations

import functools
from typing import Annotated, Optional

import typer
import typer.core

from gancli import __version__

_TYPER_TYPE = typer.core.TyperOption.display_type
_PLAIN = {"str": "TEXT", "int": "INT", "float": "FLOAT", "path": "PATH", "Path": "PATH", "file": "PATH"}


def _plain_type(param, ctx) -> str | None:
    """The type column of ``--help``: nothing for a flag, TEXT / INT / FLOAT / PATH for a value,
    "(repeatable)" for a list (Typer would show Python types: ``<bool>``, ``<list[str]>``)."""
    label = _TYPER_TYPE(param, ctx).strip("<>")
    if label == "bool":
        return None
    if label.startswith("list[") and label.endswith("]"):
        return f"{_PLAIN.get(label[5:-1], label[5:-1].upper())} (repeatable)"
    return _PLAIN.get(label, label.upper())


typer.core.TyperOption.display_type = _plain_type
typer.core.TyperArgument.display_type = _plain_type

app = typer.Typer(
    name="gancli",
    help="Train and study self-attention / spectral-norm GANs (DCGAN, SNGAN, SAGAN, BigGAN).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # "[sagan: 64, quick: 8]" in a help text is a default, not rich markup
)

TARGET_HELP = "Run name (a folder under ./runs), run directory or checkpoint file [the newest run under ./runs]."
DEVICE_HELP = "auto, cpu, cuda, cuda:N, mps."


def complete_runs(incomplete: str) -> list[str]:
    """Shell completion of a run argument: run names under ./runs, then folders and .pt files."""
    import glob
    import os

    from gancli.checkpoint import run_names

    found = [name for name in run_names() if name.startswith(incomplete)]
    for path in sorted(glob.glob(os.path.expanduser(incomplete) + "*")):
        if os.path.isdir(path):
            found.append(path + "/")
        elif path.endswith(".pt"):
            found.append(path)
    return found


def completer(registry: str, comma_list: bool = False):
    """Shell completion of the names in one of gancli's registries ("datasets", "models", "methods",
    "losses", "presets", "metrics", "extractors", "hparams", "loggers", "formats"); ``comma_list``: the option
    takes ``a,b,c`` and the last item is completed."""

    def complete(incomplete: str) -> list[str]:
        head, _, last = incomplete.rpartition(",") if comma_list else ("", "", incomplete)
        prefix = head + "," if head else ""
        return [prefix + name for name in registry_names(registry) if name.startswith(last)]

    complete.registry = registry  # tests/test_registries.py: the option's help names every entry
    return complete


def registry_names(registry: str) -> list[str]:
    """Every name a registry holds (what completion offers)."""
    if registry == "presets":
        from gancli.config import PRESETS

        return ["auto", *PRESETS]
    if registry == "hparams":
        from gancli.config import HPARAMS

        return list(HPARAMS)
    if registry == "datasets":
        from gancli.data import DATASETS, PAIR_DATASETS

        return [*DATASETS.names(), *PAIR_DATASETS.names()]
    module, attr = {"models": ("gancli.models", "MODELS"), "methods": ("gancli.methods", "METHODS"),
                    "losses": ("gancli.losses", "LOSSES"), "metrics": ("gancli.metrics.registry", "METRICS"),
                    "extractors": ("gancli.metrics.extractors", "EXTRACTORS"),
                    "loggers": ("gancli.loggers", "LOGGERS"), "formats": ("gancli.export.formats", "FORMATS")}[registry]
    import importlib

    found = getattr(importlib.import_module(module), attr)
    return list(found.names() if hasattr(found, "names") else found)


#: the CKPT|RUN argument every command that reads a run takes
RunTarget = Annotated[Optional[str], typer.Argument(metavar="RUN", help=TARGET_HELP, autocompletion=complete_runs,
                                                    show_default=False)]


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
    from gancli.device import keep_freed_memory

    keep_freed_memory()  # every command: freed tensors stay in the heap, not re-faulted pages (10-14% per step on CPU)


def examples_epilog(examples: list[tuple[str, str]]) -> str:
    """The "Examples" block that ends a command's ``--help``: one bullet per (command line, what it does)."""
    return "**Examples**\n\n" + "\n".join(f"* `{line}`: {what}" for line, what in examples) + "\n"


def command(name: str, examples: list[tuple[str, str]] | None = None):
    """Marks a command function: named ``name``, its GancliErrors become one red line on stderr and
    exit code 1 (any other exception is a bug and keeps its traceback). ``examples`` (command line,
    what it does) end its ``--help``. It is not registered here: ``cli/main.py`` registers every
    command in one list, so importing a command module has no side effect and ``--help``'s order
    does not depend on import order."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from gancli.errors import GancliError, Stopped, stop_signals_raise

            try:
                with stop_signals_raise():
                    return fn(*args, **kwargs)
            except Stopped as err:
                typer.secho(f"error: {err}", fg="red", err=True)
                raise typer.Exit(128 + err.signum) from None
            except GancliError as err:
                typer.secho(f"error: {err}", fg="red", err=True)
                raise typer.Exit(1) from None

        fn.command_name = name
        fn.cli_entry = wrapper
        fn.examples = list(examples or [])
        return fn

    return decorator


def split_list(text: Optional[str]) -> Optional[list[str]]:
    """``"a, b,c"`` -> ["a", "b", "c"]; None stays None."""
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]
