"""Images from a checkpoint: latents (truncated by resampling), labels, interpolation, output files.

The truncation trick (Brock et al. 2019): draw z from N(0, I) and *redraw* every entry with
|z_i| > t until all lie in [-t, t]; z then follows the normal truncated to [-t, t] (density
proportional to exp(-z^2 / 2) there). Scaling z by t, or clamping it, gives other distributions
(a narrower normal; point masses at +-t) that G was never shown.

Everything random is drawn from CPU ``torch.Generator``s seeded from ``seed`` (one for z, one for
labels), so the same seed gives the same z and labels on any device, and bit-identical images on
the same device.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gancli.checkpoint import atomic_write_bytes
from gancli.config import RUNS_ROOT, ModelConfig, SampleRequest, check_truncation
from gancli.errors import GancliError
from gancli.methods import LoadedCheckpoint, load_run_checkpoint


# ---------------------------------------------------------------------------------------- latents
def truncated_normal(n: int, dim: int, truncation: float | None, generator: torch.Generator) -> torch.Tensor:
    """z: (n, dim) float32 from N(0, I), or from N(0, I) truncated to [-t, t] by resampling."""
    z = torch.randn(n, dim, generator=generator)
    if truncation is None:
        return z
    check_truncation(truncation)
    outside = z.abs() > truncation
    # each round keeps an entry with probability P(|z| <= t) (0.20 at t = 0.25, 0.008 at t = 0.01):
    # the rounds needed grow like log(n * dim) / P, a few hundred at the smallest t allowed
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > truncation
    return z


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (N, D) at fractions t (K,) -> (N, K, D).

    slerp(a, b; t) = sin((1-t) w) / sin w * a + sin(t w) / sin w * b, w the angle between a and b;
    linear interpolation where a and b are (nearly) parallel."""
    a_n = a / a.norm(dim=1, keepdim=True)
    b_n = b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(dim=1).clamp(-1.0, 1.0))[:, None, None]  # (N, 1, 1)
    t = t[None, :, None]
    sin_omega = torch.sin(omega)
    safe = sin_omega.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1 - t) * omega) / torch.where(safe, sin_omega, 1.0), 1 - t)
    wb = torch.where(safe, torch.sin(t * omega) / torch.where(safe, sin_omega, 1.0), t)
    return wa * a[:, None, :] + wb * b[:, None, :]


# ---------------------------------------------------------------------------------------- checkpoints
@dataclass
class LoadedGenerator:
    G: nn.Module  # in eval mode, on its device
    ema: bool  # whether these are the EMA weights
    checkpoint: LoadedCheckpoint = field(repr=False)

    @property
    def model_config(self) -> ModelConfig:
        return self.checkpoint.model_config

    @property
    def dataset(self) -> dict[str, Any]:  # the checkpoint's dataset description
        return self.checkpoint.dataset

    @property
    def step(self) -> int:
        return self.checkpoint.step

    @property
    def path(self) -> Path:
        return self.checkpoint.path

    @property
    def how(self) -> str:  # how the path was found ("run directory", "newest run under runs", ...)
        return self.checkpoint.how

    @property
    def label_kind(self) -> str:
        return self.model_config.label_kind

    @property
    def class_names(self) -> list[str]:
        names = list(self.dataset.get("class_names") or [])
        return names if len(names) == self.model_config.n_classes else [str(k) for k in range(self.model_config.n_classes)]

    @property
    def attr_names(self) -> list[str]:
        names = list(self.dataset.get("attr_names") or [])
        return names if len(names) == self.model_config.n_attrs else [f"attr{k}" for k in range(self.model_config.n_attrs)]


def load_generator(target: str | Path | LoadedCheckpoint | None, ema: bool | None = None,
                   device: str | torch.device = "cpu", runs_root: str | Path = RUNS_ROOT) -> LoadedGenerator:
    """Resolves ``target`` (checkpoint, run directory, None = newest run, or an already loaded
    checkpoint), loads it and builds its method's generator.

    ``ema``: None = the EMA weights when the checkpoint has them; True = EMA (an error without);
    False = the raw training weights."""
    ckpt = target if isinstance(target, LoadedCheckpoint) else load_run_checkpoint(target, runs_root)
    G, used_ema = ckpt.network(ema=ema, device=device)
    return LoadedGenerator(G, used_ema, ckpt)


# ---------------------------------------------------------------------------------------- labels
def parse_classes(spec: str, gen: LoadedGenerator) -> list[int]:
    """``--class``: "all", one class, or a comma list; by index or by name ("3", "circle,ring")."""
    if gen.label_kind != "class":
        what = "unconditional" if gen.label_kind == "none" else "conditioned on attributes (use --attrs)"
        raise GancliError(f"--class needs a class-conditional model; this one is {what}")
    names = gen.class_names
    n = len(names)
    if spec.strip().lower() == "all":
        return list(range(n))
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if item in names:
            out.append(names.index(item))
        elif re.fullmatch(r"-?[0-9]+", item):
            k = int(item)
            if not 0 <= k < n:
                raise GancliError(f"class {k} is out of range: the model has {n} classes (0-{n - 1})")
            out.append(k)
        else:
            raise GancliError(f"unknown class '{item}'; choose an index 0-{n - 1} or a name: {', '.join(names)}")
    return out


def parse_attrs(spec: str, gen: LoadedGenerator) -> dict[int, float]:
    """``--attrs Male,-Smiling`` -> {index of Male: 1.0, index of Smiling: 0.0}."""
    if gen.label_kind != "attrs":
        what = "unconditional" if gen.label_kind == "none" else "class-conditional (use --class)"
        raise GancliError(f"--attrs needs a model conditioned on attributes; this one is {what}")
    names = gen.attr_names
    fixed: dict[int, float] = {}
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        value = 0.0 if item.startswith("-") else 1.0
        name = item.lstrip("+-")
        if name not in names:
            raise GancliError(f"unknown attribute '{name}'; this model knows: {', '.join(names)}")
        fixed[names.index(name)] = value
    return fixed


def seeded_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """The two CPU generators every command draws from for one ``--seed``: z, then labels."""
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed((seed + 1_000_003) % 2**63)


def data_labels(gen: LoadedGenerator, n: int, generator: torch.Generator) -> torch.Tensor | None:
    """Labels drawn as the training data has them (see ``labels_like_data``)."""
    return labels_like_data(gen.model_config, gen.dataset, n, generator)


def labels_like_data(model_config: ModelConfig, dataset: dict[str, Any], n: int,
                     generator: torch.Generator) -> torch.Tensor | None:
    """Labels drawn as the training data has them: classes by their frequency, each attribute set
    with its frequency (``dataset`` is a checkpoint's dataset description). None for an
    unconditional model."""
    freq = torch.tensor(dataset.get("label_frequencies") or [], dtype=torch.float64)
    if model_config.label_kind == "class":
        k = model_config.n_classes
        if len(freq) != k or not freq.sum() > 0:
            freq = torch.ones(k, dtype=torch.float64)
        return torch.multinomial(freq, n, replacement=True, generator=generator)
    if model_config.label_kind == "attrs":
        k = model_config.n_attrs
        if len(freq) != k:
            freq = torch.full((k,), 0.5, dtype=torch.float64)
        return (torch.rand(n, k, generator=generator, dtype=torch.float64) < freq).float()
    return None


# ---------------------------------------------------------------------------------------- samples
@dataclass
class Samples:
    images: torch.Tensor  # uint8 (N, H, W, C) on the CPU
    labels: torch.Tensor | None  # int64 (N,), float (N, k) (soft classes / attributes), or None
    nrow: int  # images per grid row
    z: torch.Tensor  # (N, z_dim) the latents used
    frames: list[np.ndarray] | None = None  # interpolation: one grid per step, for the GIF


@torch.no_grad()
def run_generator(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """G(z, y) in chunks of ``batch_size`` -> uint8 RGB images (N, H, W, 3) on the CPU (one-channel
    models are repeated to RGB, as FID tools expect)."""
    from gancli.viz.grid import to_uint8

    device = next(G.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        zi = z[i: i + batch_size].to(device)
        yi = None if y is None else y[i: i + batch_size].to(device)
        out.append(to_uint8(G(zi, yi)))
    return torch.cat(out)


def sample(gen: LoadedGenerator, req: SampleRequest) -> Samples:
    """Draws the images ``req`` asks for, as a grid:

    - ``--class`` listing k > 1 classes (or "all"): k rows, the same z down each column, ceil(n / k)
      columns;
    - several truncation values (a sweep): one row of n per value, all rows from the same base z
      (each row redraws only the entries outside its own range) and the same labels;
    - otherwise n images, ``nrow`` per row (default ceil(sqrt(n))).
    z comes from a generator seeded with ``seed``, labels from a second one, so the same seed gives
    the same z for a given layout whatever the labels."""
    req.check()
    z_gen, label_gen = seeded_generators(req.seed)
    if req.interp is not None:
        return _interpolate(gen, req, z_gen, label_gen)
    z_dim = gen.model_config.z_dim
    truncations = req.truncation or [None]
    classes = parse_classes(req.classes, gen) if req.classes is not None else None
    fixed = parse_attrs(req.attrs, gen) if req.attrs is not None else None
    if classes is not None and len(classes) > 1:
        if len(truncations) > 1:
            raise GancliError("a truncation sweep takes one class (or none); several --class values make rows too")
        cols = math.ceil(req.n / len(classes))
        z = truncated_normal(cols, z_dim, truncations[0], z_gen).repeat(len(classes), 1)
        y = torch.tensor(classes).repeat_interleave(cols)
        nrow = cols
    else:
        z = torch.cat([truncated_normal(req.n, z_dim, t, torch.Generator().manual_seed(req.seed)) for t in truncations])
        y = data_labels(gen, req.n, label_gen)
        if classes is not None:
            y = torch.full((req.n,), classes[0], dtype=torch.int64)
        for k, v in (fixed or {}).items():
            y[:, k] = v
        if y is not None:
            y = y.repeat(len(truncations), *([1] * (y.dim() - 1)))
        nrow = req.n if len(truncations) > 1 else req.nrow or max(1, math.ceil(math.sqrt(req.n)))
    images = run_generator(gen.G, z, y, req.batch_size)
    return Samples(images, y, nrow, z)


def _interpolate(gen: LoadedGenerator, req: SampleRequest, g: torch.Generator, label_gen: torch.Generator) -> Samples:
    """n rows, each ``interp`` steps from z_a to z_b by slerp; for a class model also from class a to
    class b through the class embedding (soft one-hot labels mix the embedding rows). With
    ``truncation`` the two endpoints are truncated; points between them can leave [-t, t] a little
    (slerp keeps the norm, not the box)."""
    rows, steps = req.n, req.interp
    z_dim = gen.model_config.z_dim
    chosen = parse_classes(req.classes, gen) if req.classes is not None else None  # errors for the wrong model kind
    fixed = parse_attrs(req.attrs, gen) if req.attrs is not None else None
    t_max = req.truncation[0] if req.truncation else None
    za = truncated_normal(rows, z_dim, t_max, g)
    zb = truncated_normal(rows, z_dim, t_max, g)
    t = torch.linspace(0, 1, steps)
    z = slerp(za, zb, t).reshape(rows * steps, z_dim)
    y = None
    if gen.label_kind == "class":
        k = gen.model_config.n_classes
        if chosen is not None:
            if len(chosen) > 2:
                raise GancliError("--interp walks between two classes: give one or two with --class")
            ya = torch.full((rows,), chosen[0])
            yb = torch.full((rows,), chosen[-1])
        else:
            ya, yb = data_labels(gen, rows, label_gen), data_labels(gen, rows, label_gen)
        onehot_a = torch.nn.functional.one_hot(ya, k).float()
        onehot_b = torch.nn.functional.one_hot(yb, k).float()
        y = (onehot_a[:, None] * (1 - t)[None, :, None] + onehot_b[:, None] * t[None, :, None]).reshape(rows * steps, k)
    elif gen.label_kind == "attrs":
        y = data_labels(gen, rows, label_gen)
        for k, v in (fixed or {}).items():
            y[:, k] = v
        y = y.repeat_interleave(steps, dim=0)
    images = run_generator(gen.G, z, y, req.batch_size)
    from gancli.viz.grid import tile

    per_step = images.view(rows, steps, *images.shape[1:])
    frames = [tile(per_step[:, s], nrow=max(1, math.ceil(math.sqrt(rows)))) for s in range(steps)]
    return Samples(images, y, steps, z, frames)


# ---------------------------------------------------------------------------------------- files
def check_writable(path: Path, is_dir: bool = False) -> None:
    """Fails early (before any image is made) if ``path`` cannot be written."""
    path = Path(path)
    if is_dir:
        if path.exists() and not path.is_dir():
            raise GancliError(f"cannot write images into {path}: it is a file")
        probe = path if path.exists() else _existing_parent(path)
    else:
        if path.is_dir():
            raise GancliError(f"cannot write {path}: it is a directory")
        probe = _existing_parent(path)
        if path.exists() and not _writable(path):
            raise GancliError(f"cannot write {path}: permission denied")
    if not probe.is_dir():
        raise GancliError(f"cannot write {path}: {probe} is not a directory")
    if not _writable(probe):
        raise GancliError(f"cannot write {path}: {probe} is not writable")


def _existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    return parent


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def save_npz(path: Path, samples: Samples) -> Path:
    """``images`` uint8 (N, H, W, C) and, for conditional models, ``labels`` (the layout FID tools read)."""
    arrays = {"images": samples.images.numpy()}
    if samples.labels is not None:
        arrays["labels"] = samples.labels.numpy()
    atomic_write_bytes(Path(path), lambda f: np.savez(f, **arrays))
    return Path(path)


def save_individual(folder: Path, samples: Samples) -> list[Path]:
    from gancli.viz.grid import save_png

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(samples.images) - 1)))
    return [save_png(img.numpy(), folder / f"{i:0{width}d}.png") for i, img in enumerate(samples.images)]


def save_grid_png(path: Path, samples: Samples) -> Path:
    from gancli.viz.grid import save_png, tile

    return save_png(tile(samples.images, nrow=samples.nrow), path)


__all__ = ["truncated_normal", "slerp", "load_generator", "LoadedGenerator", "SampleRequest", "Samples", "sample",
           "run_generator", "sample_to_files", "parse_classes", "parse_attrs", "data_labels",
           "labels_like_data", "seeded_generators", "save_npz", "save_individual",
           "save_grid_png", "check_writable"]


@dataclass
class SampleOutputs:
    grid: Path | None = None  # --out
    npz: Path | None = None  # --npz
    individual: Path | None = None  # --individual DIR
    gif: Path | None = None  # --interp: the animation beside the grid


def sample_to_files(gen: LoadedGenerator, req: SampleRequest, out: Path | None, npz: Path | None = None,
                    individual: Path | None = None) -> tuple[Samples, SampleOutputs]:
    """Checks every destination first (so bad input writes nothing), samples, then writes: the grid
    PNG ``out``, the .npz, one PNG per image, and with ``interp`` a GIF beside the grid."""
    if out is None and npz is None and individual is None:
        raise GancliError("nothing to write: give --out, --npz or --individual")
    for path in (out, npz):
        if path is not None:
            check_writable(path)
    if out is not None and Path(out).suffix.lower() != ".png":
        raise GancliError(f"--out {out}: the grid is a PNG; give a .png path")
    gif = out.with_suffix(".gif") if (out is not None and req.interp is not None) else None
    if gif is not None:
        check_writable(gif)
    if individual is not None:
        check_writable(individual, is_dir=True)
        if Path(individual).is_dir() and any(Path(individual).iterdir()):
            raise GancliError(f"--individual {individual} is not empty; give a new or empty folder")
    samples = sample(gen, req)
    written = SampleOutputs()
    if out is not None:
        written.grid = save_grid_png(out, samples)
    if gif is not None:
        from gancli.viz.grid import save_gif

        frames = samples.frames + samples.frames[-2:0:-1]  # there and back again
        written.gif = save_gif(frames, gif, duration_ms=120)
    if npz is not None:
        written.npz = save_npz(npz, samples)
    if individual is not None:
        save_individual(individual, samples)
        written.individual = Path(individual)
    return samples, written
