"""The run directory: config.json, metrics.jsonl, samples/, checkpoints/, progress.gif.

Only rank 0 writes (``active``). config.json, checkpoints, grids and the GIF are written
atomically (temp file + rename); metrics.jsonl is appended to, one line per write.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

from gancli import __version__
from gancli.checkpoint import atomic_write_bytes, files_by_step, run_path_for_name, save_checkpoint
from gancli.config import RUNS_ROOT, ModelConfig, TrainConfig
from gancli.errors import GancliError
from gancli.runlog import append_record, has_eval, parse_record, read_records
import torch


FINGERPRINT_IMAGES = 64  # images read for a dataset's content fingerprint (evenly spaced)


def dataset_fingerprint(ds) -> str:
    """A cheap content fingerprint: size, names, every label and 64 evenly spaced images (as the
    loader delivers them). Files added, removed, renamed or edited almost always change it."""

    h = hashlib.sha256()
    h.update(json.dumps([len(ds), list(ds.class_names), list(ds.attr_names), ds.label_kind]).encode())
    if ds.label_kind != "none":
        h.update(ds.labels.cpu().numpy().tobytes())
    picks = torch.linspace(0, len(ds) - 1, min(FINGERPRINT_IMAGES, len(ds))).round().long().unique()
    h.update(ds.get_uint8_batch(picks)[0].numpy().tobytes())
    return h.hexdigest()[:16]


def dataset_info(ds) -> dict:
    """What a checkpoint records of its training data; a two-domain dataset (``.a``, ``.b``) is
    described per domain under "domains", with its sizes and fingerprints summed up at the top."""
    if hasattr(ds, "a") and hasattr(ds, "b"):
        domains = {"A": dataset_info(ds.a), "B": dataset_info(ds.b)}
        return {"name": ds.name, "resolution": ds.resolution, "channels": ds.channels, "label_kind": "none",
                "n_classes": 0, "class_names": [], "attr_names": [], "label_frequencies": [],
                "size": [domains["A"]["size"], domains["B"]["size"]],
                "fingerprint": domains["A"]["fingerprint"] + domains["B"]["fingerprint"], "domains": domains}
    return {
        "name": ds.name, "resolution": ds.resolution, "channels": ds.channels, "label_kind": ds.label_kind,
        "n_classes": ds.n_classes, "class_names": list(ds.class_names), "attr_names": list(ds.attr_names),
        "label_frequencies": [float(v) for v in ds.label_frequencies().tolist()] if ds.label_kind != "none" else [],
        "size": len(ds), "fingerprint": dataset_fingerprint(ds),
    }


def dataset_changes(saved: dict, now: dict) -> list[str]:
    """What differs between a checkpoint's dataset description and the rebuilt dataset's."""
    changes = []
    for key, what in (("size", "images"), ("class_names", "classes"), ("attr_names", "attributes"),
                      ("resolution", "resolution"), ("channels", "channels")):
        if key in saved and saved[key] != now.get(key):
            changes.append(f"{what} {_short(saved[key])} -> {_short(now.get(key))}")
    if not changes and saved.get("fingerprint") and saved["fingerprint"] != now.get("fingerprint"):
        changes.append("the images or labels themselves (content fingerprint differs)")
    return changes


def _short(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value[:6])) + (", ..." if len(value) > 6 else "") + "]"
    return str(value)


def holds_run(path: Path) -> bool:
    """A run that got as far as a checkpoint (a run killed before its first one may start again)."""
    return any((path / "checkpoints").glob("*.pt"))


class RunDir:
    """``active``: this process writes (rank 0). ``lock()`` holds ``RUN/.lock`` (``fcntl.flock``)
    for the life of the process: a second gancli on the same run gets one line naming the first."""

    def __init__(self, path: Path, keep: int = 3, active: bool = True):
        self.path = Path(path)
        self.keep = keep
        self.active = active
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Creates the directory if needed, takes the run's lock, and removes the temporary files of
        saves that a killed process left behind. Raises GancliError when another process holds it."""
        if not self.active:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise GancliError(f"cannot use the run directory {self.path}: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES):
                raise GancliError(f"{self.path} is in use by gancli process {holder}; wait for it to finish "
                                  "or stop it first") from None
            raise GancliError(f"cannot lock {self.path}: {err.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        for tmp in list(self.path.glob(".*.tmp")) + list(self.path.glob("*/.*.tmp")):
            tmp.unlink(missing_ok=True)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    @contextlib.contextmanager
    def writing(self, what: str):
        """Turns a failed write (disk full, file-size limit, permissions) into one line naming what
        could not be written and the last good checkpoint."""
        try:
            yield
        except OSError as err:
            last = self.last_checkpoint()
            where = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
            raise GancliError(f"could not write {what} ({err.strerror or err}); training stopped ({where})") from None

    def check_writable(self) -> None:
        """Before any training step: a resumed run whose folders cannot be written fails now."""
        if not self.active:
            return
        for folder in (self.path, self.path / "checkpoints", self.path / "samples"):
            if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
                raise GancliError(f"cannot write to {folder} (permission denied); nothing was trained")
        if self.metrics_path.exists() and not os.access(self.metrics_path, os.W_OK):
            raise GancliError(f"cannot write to {self.metrics_path} (permission denied); nothing was trained")

    def truncate_metrics(self, step: int) -> int:
        """Drops metrics.jsonl records past ``step`` (a resumed run logged them after its last
        checkpoint; it will log those steps again). Returns how many were dropped."""
        if not self.active or not self.metrics_path.exists():
            return 0
        kept, dropped = [], 0
        for line in self.metrics_path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
            record = parse_record(line)
            if record is None or record["step"] > step:  # a line cut short by a crash, or past the checkpoint
                dropped += 1
            else:
                kept.append(line if line.endswith("\n") else line + "\n")
        if dropped:
            text = "".join(kept)
            atomic_write_bytes(self.metrics_path, lambda f: f.write(text.encode()))
        return dropped

    def has_eval(self, step: int) -> bool:
        """Whether metrics.jsonl records an evaluation at ``step``."""
        return has_eval(read_records(self.metrics_path), step)

    @staticmethod
    def default_path(cfg: TrainConfig) -> Path:
        if cfg.out:
            return Path(cfg.out)
        if cfg.name:
            return run_path_for_name(cfg.name, RUNS_ROOT)
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
        """A fresh run (under the lock): config.json, empty folders. A directory whose earlier run
        was killed before its first checkpoint is started afresh (its grids and metrics go)."""
        if holds_run(self.path):
            raise GancliError(
                f"{self.path} already holds a run; pass --resume {self.path} to continue it, or choose another --out"
            )
        if not self.active:
            return
        try:
            (self.path / "samples").mkdir(parents=True, exist_ok=True)
            (self.path / "checkpoints").mkdir(exist_ok=True)
            for stale in [self.metrics_path, self.progress_gif, *(self.path / "samples").glob("*.png")]:
                stale.unlink(missing_ok=True)
        except OSError as err:
            raise GancliError(f"cannot create the run directory {self.path}: {err.strerror}") from None
        config = {"gancli_version": __version__, "train": cfg.to_dict(), "model": model_cfg.to_dict(),
                  "dataset": dataset}
        text = json.dumps(config, indent=2) + "\n"
        atomic_write_bytes(self.config_path, lambda f: f.write(text.encode()))

    def log_metrics(self, record: dict) -> None:
        if self.active:
            with self.writing(self.metrics_path):
                append_record(self.metrics_path, record)

    def last_checkpoint(self) -> Path | None:
        last = self.path / "checkpoints" / "last.pt"
        return last if last.exists() else None

    def step_checkpoints(self) -> list[Path]:
        return files_by_step(self.path / "checkpoints", "pt")

    def save_checkpoint(self, state: dict, step: int) -> Path | None:
        """checkpoints/step-N.pt, then last.pt as a hard link to it (both atomic); prunes old steps."""
        if not self.active:
            return None
        last = self.path / "checkpoints" / "last.pt"
        before = last if last.exists() else None
        try:
            step_path = save_checkpoint(self.path / "checkpoints" / f"step-{step}.pt", state)
            tmp = last.with_name(f".last.pt.{os.getpid()}.tmp")
            try:
                if tmp.exists():
                    tmp.unlink()
                os.link(step_path, tmp)
                os.replace(tmp, last)
            except OSError:  # no hard links here: write a second copy
                save_checkpoint(last, state)
        except OSError as err:  # disk full, file-size limit, read-only: the old last.pt is intact
            where = f"the last good one is {before}" if before else "no checkpoint was written yet"
            raise GancliError(f"could not write the checkpoint of step {step} ({err.strerror or err}); "
                              f"{where}") from None
        if self.keep > 0:
            for old in self.step_checkpoints()[: -self.keep]:
                old.unlink()
        return last

    def sample_frames(self) -> list[Path]:
        return files_by_step(self.path / "samples", "png")

