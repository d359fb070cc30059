"""The run directory: config.json, metrics.jsonl, samples/, checkpoints/, progress.gif.

Only rank 0 writes (``active``). config.json, checkpoints, grids and the GIF are written
atomically (temp file + rename); metrics.jsonl is appended to, one line per write.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gancli import __version__
from gancli.checkpoint import atomic_write_bytes, files_by_step, save_checkpoint
from gancli.config import RUNS_ROOT, ModelConfig, TrainConfig
from gancli.errors import GancliError


def dataset_info(ds) -> dict:
    return {
        "name": ds.name, "resolution": ds.resolution, "channels": ds.channels, "label_kind": ds.label_kind,
        "n_classes": ds.n_classes, "class_names": list(ds.class_names), "attr_names": list(ds.attr_names),
        "label_frequencies": [float(v) for v in ds.label_frequencies().tolist()] if ds.label_kind != "none" else [],
        "size": len(ds),
    }


def holds_run(path: Path) -> bool:
    return (path / "config.json").exists() or (path / "checkpoints").exists()


class RunDir:
    def __init__(self, path: Path, keep: int = 3, active: bool = True):
        self.path = Path(path)
        self.keep = keep
        self.active = active

    @staticmethod
    def default_path(cfg: TrainConfig) -> Path:
        if cfg.out:
            return Path(cfg.out)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return RUNS_ROOT / f"{cfg.dataset}-{cfg.model.name}-{cfg.model.res}-{stamp}"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def real_grid(self) -> Path:
        return self.path / "samples" / "real.png"

    @property
    def progress_gif(self) -> Path:
        return self.path / "progress.gif"

    def sample_path(self, step: int) -> Path:
        return self.path / "samples" / f"step-{step}.png"

    def create(self, cfg: TrainConfig, model_cfg: ModelConfig, dataset: dict) -> None:
        """``dataset``: the run's :func:`dataset_info`."""
        if holds_run(self.path):
            raise GancliError(
                f"{self.path} already holds a run; pass --resume {self.path} to continue it, or choose another --out"
            )
        if not self.active:
            return
        try:
            (self.path / "samples").mkdir(parents=True, exist_ok=True)
            (self.path / "checkpoints").mkdir(exist_ok=True)
        except OSError as err:
            raise GancliError(f"cannot create the run directory {self.path}: {err.strerror}") from None
        config = {"gancli_version": __version__, "train": cfg.to_dict(), "model": model_cfg.to_dict(),
                  "dataset": dataset}
        text = json.dumps(config, indent=2) + "\n"
        atomic_write_bytes(self.config_path, lambda f: f.write(text.encode()))

    def log_metrics(self, record: dict) -> None:
        if self.active:
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def last_checkpoint(self) -> Path | None:
        last = self.path / "checkpoints" / "last.pt"
        return last if last.exists() else None

    def step_checkpoints(self) -> list[Path]:
        return files_by_step(self.path / "checkpoints", "pt")

    def save_checkpoint(self, state: dict, step: int) -> Path | None:
        """checkpoints/step-N.pt, then last.pt as a hard link to it (both atomic); prunes old steps."""
        if not self.active:
            return None
        step_path = save_checkpoint(self.path / "checkpoints" / f"step-{step}.pt", state)
        last = self.path / "checkpoints" / "last.pt"
        tmp = last.with_name(f".last.pt.{os.getpid()}.tmp")
        try:
            if tmp.exists():
                tmp.unlink()
            os.link(step_path, tmp)
            os.replace(tmp, last)
        except OSError:  # no hard links here: write a second copy
            save_checkpoint(last, state)
        if self.keep > 0:
            for old in self.step_checkpoints()[: -self.keep]:
                old.unlink()
        return last

    def sample_frames(self) -> list[Path]:
        return files_by_step(self.path / "samples", "png")

