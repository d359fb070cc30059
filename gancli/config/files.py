"""Option files: ``--config`` (a TOML table of train options, or a run's config.json) and the
readers ``--study`` shares: checked by type, size and nesting before they are parsed.
"""
from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from gancli.config.checks import with_hints
from gancli.config.model import MODEL_OPTIONS
from gancli.config.train import NOT_RERUN, TrainConfig, train_option_names
from gancli.errors import GancliError


def toml_module():
    """The standard library's ``tomllib`` (Python 3.11+), or its backport ``tomli`` on 3.10 (a
    dependency there); both have ``loads`` and ``TOMLDecodeError``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


MAX_OPTION_FILE = 1 << 20  # bytes of a --config or --study file


def read_option_file(path: str | Path, flag: str) -> str:
    """The text of a small option file (``--config``, ``--study``): a regular file of at most 1 MiB,
    checked by type and size before it is read (a FIFO or /dev/zero would never end)."""

    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise GancliError(f"{flag} {path} does not exist") from None
    except OSError as err:
        raise GancliError(f"{flag} {path} cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise GancliError(f"{flag} {path} is not a regular file")
    if info.st_size > MAX_OPTION_FILE:
        raise GancliError(f"{flag} {path} is {info.st_size} bytes; an option file is at most {MAX_OPTION_FILE} bytes")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_OPTION_FILE + 1)
        return data[:MAX_OPTION_FILE].decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise GancliError(f"{flag} {path} cannot be read ({err})") from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """TOML -> dict; a syntax error or nesting deeper than Python's stack is one GancliError."""
    tomllib = toml_module()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        hint = ""
        if text.lstrip().startswith(("---", "%YAML")) or (":" in text.split("\n", 1)[0] and "=" not in text.split("\n", 1)[0]):
            hint = " (it looks like YAML: gancli reads TOML, key = value)"
        raise GancliError(f"{where} is not valid TOML ({err}){hint}") from None
    except RecursionError:
        raise GancliError(f"{where} nests too deeply to be an option file") from None


def parse_json(text: str, where: str) -> Any:
    """JSON -> value; a syntax error or nesting deeper than Python's stack is one GancliError."""

    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise GancliError(f"{where} is not valid JSON ({err})") from None
    except RecursionError:
        raise GancliError(f"{where} nests too deeply to be read") from None


def train_options_from_file(path: str | Path) -> dict[str, Any]:
    """``gancli train --config FILE``: the train options a file holds, flat, by their Python names.

    - a TOML file: a table of train options (``steps = 2000``, ``model = "sagan"``, ``attn-res =
      [16]``; dashes or underscores), as in a ``gancli compare`` study's variant tables;
    - a run's ``config.json`` (or ``gancli train --dry-run``'s output): its ``train`` table, every
      option as that run resolved it, without its run directory (a re-run gets a new one).

    Explicit options given with ``--config`` override the file's (``gancli.api.train_config``)."""
    path = Path(path)
    text = read_option_file(path, "--config")
    if path.suffix.lower() == ".json":
        data = parse_json(text, f"--config {path}")
        if not isinstance(data, dict) or not isinstance(data.get("train"), dict):
            raise GancliError(f"--config {path}: a JSON config is a run's config.json, with a \"train\" table")
        unknown = sorted(set(data["train"]) - (train_option_names() - set(MODEL_OPTIONS)) - {"model"})
        if unknown:
            raise GancliError(f"--config {path}: its train table has unknown keys {', '.join(map(str, unknown[:6]))} "
                              "(not a config.json of this gancli)")
        if not isinstance(data["train"].get("model"), dict):
            raise GancliError(f"--config {path}: its train table has no model table (a run's config.json has one)")
        try:
            options = TrainConfig.from_dict(data["train"]).options()
        except (TypeError, GancliError) as err:
            raise GancliError(f"--config {path}: its train table is not a gancli config ({err})") from None
        return {k: v for k, v in options.items() if k not in NOT_RERUN}
    data = parse_toml(text, f"--config {path}")
    options = {key.replace("-", "_"): value for key, value in data.items()}
    unknown = sorted(set(options) - train_option_names())
    if unknown:
        raise GancliError(f"--config {path}: unknown train options {with_hints(unknown, train_option_names())} "
                          "(the names of gancli train's flags)")
    return options
