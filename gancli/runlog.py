"""A run's ``metrics.jsonl``, the one module that writes and reads it: one JSON record per line,
appended by the training loop (``RunDir.log_metrics``) and ``gancli eval``, read by resume,
``plot``, ``info``, ``report`` and ``compare``.

Training records hold ``step``, the method's statistics, ``img_s`` and ``time`` (seconds since
that process started: a resumed run's clock starts again at 0); evaluation records hold
``"event": "eval"``, ``step`` and the metrics. Reading is forgiving of what a crash or a hand can
leave behind: a line cut short, a line that is not an object, a record without an integer step,
nesting deeper than Python's stack — each such line is skipped, never raised.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Appends one record as one JSON line (one ``write`` call, so concurrent readers never see half
    a record); first ends a line cut short by a crash, so the new record starts a line of its own.
    A failed write raises the OSError (the caller says what it means for the run)."""
    with open(path, "a+b") as f:
        f.seek(0, 2)
        torn = False
        if f.tell() > 0:
            f.seek(-1, 2)
            torn = f.read(1) != b"\n"
        f.write((b"\n" if torn else b"") + json.dumps(record).encode() + b"\n")


def parse_record(line: str) -> dict[str, Any] | None:
    """One metrics.jsonl line -> its record, or None when it is not a record with a step >= 0."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    step = record.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return None
    return record


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every readable record of a metrics.jsonl, in file order ([] when there is no such file)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            record = parse_record(line)
            if record is not None:
                records.append(record)
    return records


def split_records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training records, evaluation records)."""
    train, evals = [], []
    for record in records:
        (evals if record.get("event") == "eval" else train).append(record)
    return train, evals


def number(record: dict[str, Any], key: str) -> float | None:
    """``record[key]`` as a finite float, or None (missing, text, NaN, a list ...)."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def training_seconds(records: list[dict[str, Any]], step: int | None = None) -> float | None:
    """Wall time of training up to ``step`` (all of it: None), summed over the processes that trained
    the run: ``time`` restarts at 0 when a run resumes, so a drop starts a new segment."""
    total, segment, last = 0.0, 0.0, None
    for record in records:
        t = number(record, "time")
        if t is None or record.get("event") == "eval" or (step is not None and record["step"] > step):
            continue
        if last is not None and t < last:  # a resumed process: a new clock
            total += segment
        segment = last = t
    return total + segment if last is not None else None


def has_eval(records: list[dict[str, Any]], step: int) -> bool:
    """Whether an evaluation at ``step`` was recorded."""
    return any(r.get("event") == "eval" and r["step"] == step for r in records)


__all__ = ["append_record", "has_eval", "number", "parse_record", "read_records", "split_records", "training_seconds"]
