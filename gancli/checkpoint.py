"""One checkpoint format: a dict of state dicts, configs and plain values, loadable with
``torch.load(weights_only=True)`` (never a pickle that runs code), written atomically.

Keys (format_version 2):
    format            "gancli-checkpoint"
    format_version    2
    gancli_version    str
    method            str: the training method (``gancli.methods``), e.g. "gan"
    method_state      dict: the method's own state (empty for "gan"; BEGAN's k_t, CycleGAN's pools)
    model_config      dict: rebuilds the networks (with the method's ``build_network``)
    train_config      dict: the resolved TrainConfig
    dataset           dict: name, resolution, channels, label_kind, class_names, attr_names,
                      label_frequencies (list), size
    step              int: completed training steps
    networks          {name: state dict}: every network the method trains ("G", "D" for "gan")
    ema               {name: state dict}: EMA weights of the method's ema_networks (empty: --no-ema)
    optimizers        {name: optimizer state dict} ("g", "d" for "gan")
    scaler            GradScaler state dict or None
    rng               {"torch": uint8 tensor, "cuda": [uint8 tensor, ...]}
    data_position     {"epoch": int, "index": int}: where the data stream resumes

Format 1 (gancli 0.1: G, D, G_ema, opt_g, opt_d at the top level, no method) is read as a "gan"
checkpoint of format 2.
"""
from __future__ import annotations

import difflib
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from gancli.config import RUNS_ROOT
from gancli.errors import GancliError

FORMAT = "gancli-checkpoint"
FORMAT_VERSION = 2


def atomic_write_bytes(path: Path, write) -> None:
    """Calls ``write(file_object)`` on a temporary file beside ``path``, then renames it over ``path``,
    so a crash at any moment leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            f = _RecordingWriter(raw)
            try:
                write(f)
            except RuntimeError:
                # torch.save's C++ writer reports a failed write as "unexpected pos ...": raise
                # the OSError (no space left, file too large) that caused it instead
                if f.error is not None:
                    raise f.error from None
                raise
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, usual_mode())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _RecordingWriter:
    """A binary file that remembers the OSError of a failed write (for writers that hide it)."""

    def __init__(self, raw):
        self._raw = raw
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._raw.write(data)
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name):
        return getattr(self._raw, name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_mode(directory: bool = False) -> int:
    """The permissions a new file (0o666) or folder (0o777) gets under the process's umask: what
    ``open`` would give, for files that ``mkstemp`` / ``mkdtemp`` made private (0600 / 0700)."""
    return (0o777 if directory else 0o666) & ~_umask()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    state = {"format": FORMAT, "format_version": FORMAT_VERSION, **state}
    atomic_write_bytes(Path(path), lambda f: torch.save(state, f))
    return Path(path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Loads and checks a gancli checkpoint; any other file is a GancliError saying what it is."""
    path = Path(path)
    if path.is_dir():
        raise GancliError(f"{path} is a directory, not a checkpoint file")
    if not path.exists():
        raise GancliError(f"checkpoint {path} does not exist")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] != b"PK" and magic[:1] != b"\x80":  # torch.save writes a zip; old torch a raw pickle
        raise GancliError(f"{path} is not a PyTorch checkpoint file (a gancli checkpoint is a .pt from gancli train)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError) as err:
        raise GancliError(f"{path} is not a readable checkpoint (truncated or corrupt: {_short(err)})"
                          f"{_intact_hint(path)}") from None
    except pickle.UnpicklingError as err:
        raise GancliError(
            f"{path} is a pickle that needs code to load, not a gancli checkpoint; gancli only loads "
            f"weights_only checkpoints ({_short(err)})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        kind = "a plain state_dict" if isinstance(state, dict) and state and all(
            isinstance(v, torch.Tensor) for v in state.values()) else f"a {type(state).__name__}"
        raise GancliError(f"{path} holds {kind}, not a gancli checkpoint; gancli cannot use it")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise GancliError(
            f"{path} has checkpoint format {state['format_version']}, newer than this gancli "
            f"understands ({FORMAT_VERSION}); upgrade gancli"
        )
    if state.get("format_version", 1) < 2:
        state = _upgrade_v1(state)
    return state


def _upgrade_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint (gancli 0.1, always the GAN method) in format 2's layout."""
    state = dict(state)
    nets = {k: state.pop(k) for k in ("G", "D") if state.get(k) is not None}
    ema = state.pop("G_ema", None)
    opts = {name: state.pop(key) for name, key in (("g", "opt_g"), ("d", "opt_d")) if state.get(key) is not None}
    state.update(format_version=2, method="gan", method_state={}, networks=nets,
                 ema={"G": ema} if ema is not None else {}, optimizers=opts)
    return state


def _intact_hint(damaged: Path) -> str:
    """"; the newest intact checkpoint beside it is ...", when there is one. last.pt is a hard link
    to the newest step-N.pt, so damage to one is damage to both: look at the other files."""
    try:
        inode = damaged.stat().st_ino
    except OSError:
        inode = None
    for candidate in reversed(files_by_step(damaged.parent, "pt")):
        if candidate.stat().st_ino == inode:
            continue
        try:
            torch.load(candidate, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001  (any failure: not intact)
            continue
        return f"; the newest intact checkpoint beside it is {candidate}: pass that file to --resume"
    return ""


def _short(err: BaseException) -> str:
    return str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__


def resolve_checkpoint(target: str | Path | None, runs_root: str | Path = RUNS_ROOT) -> tuple[Path, str]:
    """The one rule that turns a command's CKPT|RUN argument into a checkpoint file.

    - a file: that file;
    - a run directory: its ``checkpoints/last.pt`` (or, failing that, its newest ``step-N.pt``);
      a ``checkpoints/`` directory itself works the same way;
    - a run name (one path component that is not a file or folder here): ``runs_root/NAME``;
    - nothing: the newest run under ``runs_root`` (by the time of its last checkpoint).

    Returns ``(path, how)``, ``how`` a short phrase for the "using ..." line, e.g. "newest run under runs".
    Nothing is loaded here: ``load_checkpoint`` checks the file itself.
    """
    if target is None:
        root = Path(runs_root)
        found = [c for run in (sorted(root.iterdir()) if root.is_dir() else []) if run.is_dir()
                 for c in [_checkpoint_in(run)] if c is not None]
        if not found:
            raise GancliError(f"no runs with checkpoints under {root}/; train one first (gancli train) or "
                              "pass a checkpoint file or run directory")
        return max(found, key=lambda p: p.stat().st_mtime), f"newest run under {root}"
    path = Path(target)
    if path.is_file():
        return path, "checkpoint file"
    if path.is_dir():
        found = _checkpoint_in(path)
        if found is None:
            raise GancliError(f"{path} is a directory without checkpoints (no checkpoints/last.pt or step-N.pt)")
        return found, "run directory"
    named = Path(runs_root) / str(target)
    if is_run_name(str(target)) and named.is_dir():
        found = _checkpoint_in(named)
        if found is None:
            raise GancliError(f"run {target} ({named}) has no checkpoints yet")
        return found, f"run {target} under {runs_root}"
    hint = ""
    if is_run_name(str(target)):
        names = run_names(runs_root)
        close = difflib.get_close_matches(str(target), names, n=3)
        hint = f"; runs under {runs_root}/: {', '.join(close or names[:5])}" if names else f"; no runs under {runs_root}/"
    raise GancliError(f"no such checkpoint file, run directory or run name: {path}{hint}")


def is_run_name(text: str) -> bool:
    """A run's name: one path component (no separator), not "." or ".."."""
    return bool(text) and "/" not in text and os.sep not in text and text not in (".", "..")


def run_names(runs_root: str | Path = RUNS_ROOT) -> list[str]:
    """The names of the run directories (folders holding a checkpoint) under ``runs_root``, sorted."""
    root = Path(runs_root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _checkpoint_in(p) is not None)


def run_path_for_name(name: str, runs_root: str | Path = RUNS_ROOT) -> Path:
    """``--name NAME`` -> ``runs_root/NAME``; a name with a path separator is refused (use --out)."""
    if not is_run_name(name):
        raise GancliError(f"--name takes a plain name (the folder under {runs_root}/), got {name!r}; "
                          "give a path with --out instead")
    return Path(runs_root) / name


def _checkpoint_in(folder: Path) -> Path | None:
    for candidate in (folder / "checkpoints", folder):
        if (candidate / "last.pt").is_file():
            return candidate / "last.pt"
        steps = files_by_step(candidate, "pt")
        if steps:
            return steps[-1]
    return None


def step_of(path: str | Path) -> int | None:
    """N of a ``step-N.suffix`` file name (a checkpoint, a sample grid); None for another name."""
    m = re.fullmatch(r"step-(\d+)\.[A-Za-z0-9]+", Path(path).name)
    return int(m.group(1)) if m else None


def files_by_step(folder: Path, suffix: str) -> list[Path]:
    """``folder/step-N.suffix`` files in increasing N (checkpoints, sample grids)."""
    found = [(step_of(p), p) for p in Path(folder).glob(f"step-*.{suffix}")]
    return [p for step, p in sorted(f for f in found if f[0] is not None)]


def run_folder_of(checkpoint: Path) -> Path:
    """The folder a checkpoint's run lives in: ``RUN/checkpoints/x.pt`` -> ``RUN``, else its folder."""
    parent = Path(checkpoint).parent
    return parent.parent if parent.name == "checkpoints" else parent


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run directory a checkpoint belongs to, if it is one (it holds config.json)."""
    run = run_folder_of(checkpoint)
    return run if (run / "config.json").exists() else None
