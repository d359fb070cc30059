"""What every section of a run's page reads: the loaded checkpoint, its run directory and the request.

``RunReportRequest`` holds the page's settings (seed, truncation values, attention query points,
how many images); ``RunContext`` reads the run's files once (config.json, metrics.jsonl) for the
sections that need them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gancli.errors import GancliError
from gancli.methods import LoadedCheckpoint
from gancli.inspect.attention_math import parse_point
from gancli.viz.curves import read_metrics

#: one query pixel "X,Y"
POINT = re.compile(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*")


def parse_points(text: str) -> list[str]:
    """``--points "8,8;16,24"`` -> ["8,8", "16,24"]; their range is checked against the model's
    resolution once the checkpoint is read (``RunContext.points``)."""
    items = [item for item in text.split(";") if item.strip()]
    if not items or not all(POINT.fullmatch(item) for item in items):
        raise GancliError(f"--points takes X,Y pixel pairs separated by ';', e.g. 8,8;16,24; got {text!r}")
    return [",".join(POINT.fullmatch(item).groups()) for item in items]


def default_points(res: int) -> list[tuple[int, int]]:
    """Three query pixels on the diagonal of an R x R image: a quarter in, the centre, three quarters in."""
    return [(res // 4, res // 4), (res // 2, res // 2), (3 * res // 4, 3 * res // 4)]


@dataclass
class RunReportRequest:
    """``gancli report``'s settings."""

    points: list[str] = field(default_factory=list)  # attention query pixels "X,Y"; empty: default_points
    seed: int = 0  # z, labels, test images and sn-check's images: the same seed, the same page
    truncations: tuple[float, ...] = (2.0, 1.0, 0.5, 0.25)  # one sweep row per value
    n: int = 8  # images per row of the truncation sweep
    attn_n: int = 2  # generated images with attention maps
    translations: int = 4  # test images per domain on a translation sheet
    sn_n: int = 8  # images per kind (real, generated, interpolated) for sn-check's gradient norms

    def check(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise GancliError(f"--seed must be between 0 and 2^63 - 1, got {self.seed}")
        for point in self.points:
            parse_points(point)
        for name in ("n", "attn_n", "translations", "sn_n"):
            if getattr(self, name) < 1:
                raise GancliError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class RunContext:
    checkpoint: LoadedCheckpoint
    request: RunReportRequest
    device: Any = "cpu"  # torch.device or its name: where G runs for the sweep, the sheet and the maps
    points: list[tuple[int, int]] = field(init=False)  # the attention query pixels

    def __post_init__(self) -> None:
        """Checks the request against the model: a query point outside the image is a GancliError
        here, before any part of the page is made."""

        self.request.check()
        self.points = [parse_point(p, self.res) for p in self.request.points] or default_points(self.res)

    @property
    def run(self) -> Path | None:
        """The run directory (it holds config.json), or None for a checkpoint file on its own."""
        return self.checkpoint.run_dir

    @property
    def res(self) -> int:
        return self.checkpoint.model_config.res


    def need_run(self, what: str) -> Path:
        """The run directory, or a GancliError saying that ``what`` lives in one."""
        if self.run is None:
            raise GancliError(f"{self.checkpoint.path} is not in a run directory (no config.json beside its "
                              f"checkpoints/ folder), so there is no {what}")
        return self.run

    @cached_property
    def config(self) -> dict[str, Any]:
        """config.json of the run ({} when there is none or it cannot be read)."""
        if self.run is None:
            return {}
        try:
            config = json.loads((self.run / "config.json").read_text())
        except (OSError, ValueError):
            return {}
        return config if isinstance(config, dict) else {}

    @cached_property
    def metrics(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(training records, evaluation records) of metrics.jsonl; empty lists without one."""

        path = self.run / "metrics.jsonl" if self.run is not None else None
        if path is None or not path.is_file():
            return [], []
        return read_metrics(path)

    @property
    def train_config(self) -> dict[str, Any]:
        """The training options: the checkpoint's, else config.json's."""
        return self.checkpoint.train_config or dict(self.config.get("train") or {})

    @property
    def dataset(self) -> dict[str, Any]:
        return self.checkpoint.dataset or dict(self.config.get("dataset") or {})


__all__ = ["RunContext", "RunReportRequest", "default_points", "parse_points"]
