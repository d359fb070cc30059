"""Experiment loggers: where a run's metrics and sample grids go besides metrics.jsonl.

metrics.jsonl stays the source of truth; a logger mirrors what the training loop writes there
(every training record, every evaluation) and the sample grids, for tools users already know.
``--logger tensorboard`` writes event files into ``RUN/tb/``. A logger is a new file here plus
a ``LOGGERS`` entry (see ``base.py``).
"""
from __future__ import annotations

from gancli.loggers.base import LOGGERS, RunLogger, RunLoggers, open_loggers, scalar_tags
from gancli.loggers import tensorboard  # noqa: F401  (registers "tensorboard")

__all__ = ["LOGGERS", "RunLogger", "RunLoggers", "open_loggers", "scalar_tags"]
