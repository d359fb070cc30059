"""The logger interface, its registry, and the fan-out the training loop talks to.

A record is what the loop appends to metrics.jsonl: a training record (``step``, losses, D
outputs, ``lr_*``, ``img_s``, ``time``, the method's statistics, maybe an ``alarm`` text) or an
evaluation (``"event": "eval"``, the metric values, ``n``, ``feature_extractor``, ...).
``scalar_tags`` turns either into stable scalar tags: ``train/<key>`` and ``eval/<key>``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gancli.errors import GancliError
from gancli.registry import Registry

#: evaluation fields that describe the evaluation rather than measure the generator
EVAL_DESCRIPTION = {"step", "event", "n", "reference_n", "seconds", "feature_extractor", "reference", "checkpoint",
                    "truncation", "seed"}
#: training-record fields that are no scalar curve (the step itself, an alarm's text)
TRAIN_DESCRIPTION = {"step", "alarm", "event"}


def scalar_tags(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a metrics.jsonl record under their stable tags: ``train/d_loss``,
    ``eval/fid``; an evaluation of truncated z or of G without EMA under its own group
    (``eval_t0.5/fid``, ``eval_no_ema/fid``), not as a point of the plain curve."""
    is_eval = record.get("event") == "eval"
    if is_eval:
        truncation = record.get("truncation")
        prefix = ("eval" + (f"_t{truncation:g}" if truncation is not None else "")
                  + ("_no_ema" if record.get("ema") is False else "") + "/")
        skip = EVAL_DESCRIPTION
    else:
        prefix, skip = "train/", TRAIN_DESCRIPTION
    tags = {}
    for key, value in record.items():
        if key in skip or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            tags[prefix + key] = float(value)
    return tags


class RunLogger:
    """One logging backend for one run. ``start_step`` is the step training starts from: 0 for a
    fresh run, the checkpoint's step on resume (records logged past it by the interrupted run are
    dropped from metrics.jsonl, and a logger drops them too)."""

    #: the pip extra that installs what the backend needs
    extra: str = ""

    @classmethod
    def check(cls) -> None:
        """Raises GancliError (one line, saying how to install it) when the backend is missing."""

    def __init__(self, run_path: Path, config: dict[str, Any], start_step: int = 0):
        self.run_path = Path(run_path)

    def metrics(self, record: dict[str, Any]) -> None:
        """A record as written to metrics.jsonl."""

    def image(self, tag: str, path: Path, step: int) -> None:
        """A PNG the run wrote (a sample grid)."""

    def close(self, final: dict[str, Any] | None = None) -> None:
        """End of the run (or of this process's part of it); ``final``: the last value of every
        scalar tag, for hyperparameter tables."""

    @classmethod
    def append(cls, run_path: Path, record: dict[str, Any]) -> bool:
        """After the run: one more record (``gancli eval`` appending to metrics.jsonl) added to what
        the backend logged, nothing purged or rewritten; True if it was written."""
        return False


LOGGERS: Registry[type[RunLogger]] = Registry("logger")


class LoggerError(GancliError):
    """A logger could not write (its folder gone or a file, a full disk, the backend's own error):
    the training loop saves the run and stops with this line."""


def _failed(logger: "RunLogger", err: BaseException) -> LoggerError:
    text = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    return LoggerError(f"the {getattr(logger, 'extra', '') or type(logger).__name__} logger could not write "
                       f"({type(err).__name__}: {text})")


class RunLoggers:
    """Every logger a run asked for, behind one object; keeps the last value of each tag. Any error
    of a backend becomes a ``LoggerError`` (one line), whatever the backend raised."""

    def __init__(self, loggers: list[RunLogger]):
        self.loggers = loggers
        self.last: dict[str, float] = {}

    def metrics(self, record: dict[str, Any]) -> None:
        self.last.update(scalar_tags(record))
        for logger in self.loggers:
            try:
                logger.metrics(record)
            except Exception as err:  # noqa: BLE001 - a backend's errors are not ours to name
                raise _failed(logger, err) from None

    def image(self, tag: str, path: Path, step: int) -> None:
        for logger in self.loggers:
            try:
                logger.image(tag, path, step)
            except Exception as err:  # noqa: BLE001
                raise _failed(logger, err) from None

    def close(self) -> None:
        loggers, self.loggers = self.loggers, []
        failure = None
        for logger in loggers:
            try:
                logger.close(dict(self.last))
            except Exception as err:  # noqa: BLE001
                failure = failure or _failed(logger, err)
        if failure is not None:
            raise failure


def check_loggers(names: list[str]) -> None:
    """Unknown names and missing packages, before anything is built."""
    for name in names:
        LOGGERS.get(name).check()


def append_to_loggers(names: list[str], run_path: Path, record: dict[str, Any]) -> list[str]:
    """Mirrors a record appended to a finished run's metrics.jsonl into the loggers the run trained
    with (its config's ``logger``); a backend that is not installed now is skipped. The names of
    those written."""
    written = []
    for name in dict.fromkeys(names):
        if name in LOGGERS:
            backend = LOGGERS.get(name)
            try:
                backend.check()
            except GancliError:
                continue
            if backend.append(Path(run_path), record):
                written.append(name)
    return written


def open_loggers(names: list[str], run_path: Path, config: dict[str, Any], start_step: int = 0) -> RunLoggers:
    opened: list[RunLogger] = []
    for name in dict.fromkeys(names):
        backend = LOGGERS.get(name)
        try:
            opened.append(backend(run_path, config, start_step))
        except GancliError:
            raise
        except Exception as err:  # noqa: BLE001
            raise LoggerError(f"the {name} logger could not start in {run_path} ({type(err).__name__}: "
                              f"{(str(err).strip().splitlines() or [''])[0][:200]})") from None
    return RunLoggers(opened)
