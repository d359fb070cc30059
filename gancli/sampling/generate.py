"""Images from a loaded generator: the layout a request asks for, drawn a batch at a time.

``iter_samples`` draws z and labels a batch at a time (the same values, bit for bit, as one draw of
all n) and hands back one batch of images at a time; ``sample`` collects them in memory.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from gancli.config import RUNS_ROOT, ModelConfig, SampleRequest
from gancli.errors import GancliError
from gancli.registry import match_names
from gancli.methods import LoadedCheckpoint, load_run_checkpoint
from gancli.sampling.latents import (check_prior_truncation, draw_latents, finite_output, interpolate, labels_in_pieces,
                                     labels_like_data, latent_rows, seeded_generators)
from gancli.viz.grid import tile, to_uint8



class CheckpointView:
    """What networks loaded from a checkpoint say about where they came from (``self.checkpoint``)."""

    checkpoint: LoadedCheckpoint

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


@dataclass
class LoadedGenerator(CheckpointView):
    G: nn.Module  # in eval mode, on its device
    ema: bool  # whether these are the EMA weights
    checkpoint: LoadedCheckpoint = field(repr=False)

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
    if ckpt.method.two_domain:
        raise GancliError(f"{ckpt.path} is a {ckpt.method.name} run: its generators translate images, they do not "
                          "sample from z; use gancli translate (files), gancli sample (test translations) or gancli eval")
    G, used_ema = ckpt.network(ema=ema, device=device)
    return LoadedGenerator(G, used_ema, ckpt)


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
        (name,) = match_names([item.lstrip("+-")], names, "attribute")
        fixed[names.index(name)] = value
    return fixed


def data_labels(gen: LoadedGenerator, n: int, generator: torch.Generator) -> torch.Tensor | None:
    """Labels drawn as the training data has them (see ``labels_like_data``)."""
    return labels_like_data(gen.model_config, gen.dataset, n, generator)


@dataclass
class Samples:
    images: torch.Tensor  # uint8 (N, H, W, C) on the CPU
    labels: torch.Tensor | None  # int64 (N,), float (N, k) (soft classes / attributes), or None
    nrow: int  # images per grid row
    z: torch.Tensor  # (N, z_dim) the latents used
    frames: list[np.ndarray] | None = None  # interpolation: one grid per step, for the GIF
    seed: int | None = None  # the request's seed (set by gancli.sample, which may draw it)
    row_labels: list[str] | None = None  # what each grid row is (a class, a t), for the PNG's margin
    title: str | None = None  # what the whole grid is (one class, attributes, one t)


@dataclass
class SampleBatch:
    images: torch.Tensor  # uint8 (B, H, W, 3) on the CPU
    labels: torch.Tensor | None  # the B labels G was given, or None
    z: torch.Tensor  # (B, z_dim)


@dataclass
class SamplePlan:
    """What a request makes, known before any image is: how many, the grid's layout, and z and labels
    in image order, drawn piece by piece when ``inputs()`` is iterated."""
    n_images: int
    nrow: int  # images per grid row
    inputs: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor | None]]]  # (z, labels) pieces, in order
    interp: int | None = None  # steps per row of an interpolation (its frames are made from the images)
    row_labels: list[str] | None = None  # see Samples
    title: str | None = None


@torch.no_grad()
def run_generator(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """G(z, y) in chunks of ``batch_size`` -> uint8 RGB images (N, H, W, 3) on the CPU (one-channel
    models are repeated to RGB, as FID tools expect)."""

    device = next(G.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        zi = z[i: i + batch_size].to(device)
        yi = None if y is None else y[i: i + batch_size].to(device)
        out.append(to_uint8(finite_output(G(zi, yi))))
    return torch.cat(out)


def plan_samples(gen: LoadedGenerator, req: SampleRequest) -> SamplePlan:
    """Checks ``req`` against the model (classes, attributes) and lays out the images it asks for:

    - ``--class`` listing k > 1 classes (or "all"): k rows, the same z down each column, ceil(n / k)
      columns;
    - several truncation values (a sweep): one row of n per value, all rows from the same base z
      (each row redraws only the entries outside its own range) and the same labels;
    - with ``interp``: n rows of ``interp`` steps (see ``_interpolation_inputs``);
    - otherwise n images, ``nrow`` per row (default ceil(sqrt(n))).
    z comes from a generator seeded with ``seed``, labels from a second one, so the same seed gives
    the same z for a given layout whatever the labels. Except for interpolations (whose z are made
    at once), z and labels are drawn a piece of at most ``batch_size`` rows at a time."""
    req.check()
    for t in req.truncation or []:
        check_prior_truncation(gen.model_config, t)
    if req.interp is not None:
        z, y, walks = _interpolation_inputs(gen, req)
        return SamplePlan(len(z), req.interp, lambda: iter([(z, y)]), interp=req.interp, row_labels=walks,
                          title=_grid_title(gen, req, None))
    pieces = req.batch_size
    truncations = req.truncation or [None]
    classes = parse_classes(req.classes, gen) if req.classes is not None else None
    fixed = parse_attrs(req.attrs, gen) if req.attrs is not None else None
    if classes is not None and len(classes) > 1:
        if len(truncations) > 1:
            raise GancliError("a truncation sweep takes one class (or none); several --class values make rows too")
        cols = math.ceil(req.n / len(classes))

        def class_rows():
            for k in classes:  # each row redraws the same z from the seed
                z = latent_rows(cols, gen.model_config, truncations[0], seeded_generators(req.seed)[0])
                for size in _piece_sizes(cols, pieces):
                    yield z.take(size), torch.full((size,), k, dtype=torch.int64)

        return SamplePlan(cols * len(classes), cols, class_rows, row_labels=[gen.class_names[k] for k in classes],
                          title=_grid_title(gen, req, None))

    def rows():
        for t in truncations:  # a sweep: every row from the same seed, so the same base z and labels
            z_gen, label_gen = seeded_generators(req.seed)
            z = latent_rows(req.n, gen.model_config, t, z_gen)
            labels = labels_in_pieces(gen.model_config, gen.dataset, req.n, label_gen)
            for size in _piece_sizes(req.n, pieces):
                y = torch.full((size,), classes[0], dtype=torch.int64) if classes is not None else labels(size)
                for k, v in (fixed or {}).items():
                    y[:, k] = v
                yield z.take(size), y

    sweep = len(truncations) > 1
    nrow = req.n if sweep else req.nrow or max(1, math.ceil(math.sqrt(req.n)))
    return SamplePlan(req.n * len(truncations), nrow, rows,
                      row_labels=[f"t = {number(t)}" for t in truncations] if sweep else None,
                      title=_grid_title(gen, req, classes[0] if classes is not None else None))


def number(value: float) -> str:
    return f"{value:g}"


def _grid_title(gen: LoadedGenerator, req: SampleRequest, one_class: int | None) -> str | None:
    """What holds for the whole grid: its one class, its fixed attributes, its one truncation t."""
    parts = []
    if one_class is not None:
        parts.append(f"class {gen.class_names[one_class]}")
    if req.attrs:
        parts.append(f"attributes {req.attrs}")
    if req.truncation and len(req.truncation) == 1:
        parts.append(f"t = {number(req.truncation[0])}")
    if req.interp is not None:
        parts.insert(0, f"{req.interp}-step walks (slerp), one per row")
    return ", ".join(parts) or None


def _piece_sizes(n: int, size: int) -> Iterator[int]:
    for start in range(0, n, size):
        yield min(size, n - start)


def iter_samples(gen: LoadedGenerator, plan: SamplePlan, batch_size: int) -> Iterator[SampleBatch]:
    """The plan's images, ``batch_size`` at a time, in order: the same batches (and so the same pixels)
    as ``run_generator`` over all of z at once. Holds one batch; the caller should drop each batch
    before asking for the next."""

    device = next(gen.G.parameters()).device
    for z, y in _rebatch(plan.inputs(), batch_size):
        with torch.no_grad():
            images = to_uint8(finite_output(gen.G(z.to(device), None if y is None else y.to(device))))
        yield SampleBatch(images, y, z)
        del images, z, y  # so that G's next batch is made with no earlier one alive


def _rebatch(pieces: Iterator[tuple[torch.Tensor, torch.Tensor | None]],
             batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Pieces of (z, labels) in -> batches of exactly ``batch_size`` out (the last one shorter)."""
    zs, ys, have = [], [], 0
    for z, y in pieces:
        while len(z):
            size = min(batch_size - have, len(z))
            zs.append(z[:size])
            ys.append(None if y is None else y[:size])
            z, y, have = z[size:], None if y is None else y[size:], have + size
            if have == batch_size:
                yield _cat(zs), _cat(ys)
                zs, ys, have = [], [], 0
    if have:
        yield _cat(zs), _cat(ys)


def _cat(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
    if parts[0] is None:
        return None
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def sample(gen: LoadedGenerator, req: SampleRequest) -> Samples:
    """All the images ``req`` asks for, in memory (layouts: see ``plan_samples``). For many images
    written to files, ``sample_to_files`` streams them instead."""
    plan = plan_samples(gen, req)
    collected = _Collector(plan)
    for batch in iter_samples(gen, plan, req.batch_size):
        collected.add(batch)
        del batch
    return collected.samples()


class _Collector:
    """Copies each batch into arrays for all the plan's images, allocated at the first batch: memory
    for the result plus one batch, not for a list of batches and then their concatenation."""

    def __init__(self, plan: SamplePlan):
        self.plan, self.filled = plan, 0
        self.images = self.labels = self.z = None

    def add(self, batch: SampleBatch) -> None:
        def room(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else torch.empty((self.plan.n_images, *t.shape[1:]), dtype=t.dtype)

        if self.images is None:
            self.images, self.labels, self.z = room(batch.images), room(batch.labels), room(batch.z)
        end = self.filled + len(batch.images)
        self.images[self.filled: end] = batch.images
        self.z[self.filled: end] = batch.z
        if self.labels is not None:
            self.labels[self.filled: end] = batch.labels
        self.filled = end

    def samples(self) -> Samples:
        samples = Samples(self.images, self.labels, self.plan.nrow, self.z, row_labels=self.plan.row_labels,
                          title=self.plan.title)
        if self.plan.interp is not None:

            rows = self.plan.n_images // self.plan.interp
            per_step = self.images.view(rows, self.plan.interp, *self.images.shape[1:])
            samples.frames = [tile(per_step[:, s], nrow=max(1, math.ceil(math.sqrt(rows))))
                              for s in range(self.plan.interp)]
        return samples


def _interpolation_inputs(gen: LoadedGenerator,
                          req: SampleRequest) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """n rows, each ``interp`` steps from z_a to z_b by slerp (a straight line for uniform z); for a class model also from class a to
    class b through the class embedding (soft one-hot labels mix the embedding rows). With
    ``truncation`` the two endpoints are truncated; points between them can leave [-t, t] a little
    (slerp keeps the norm, not the box). Returns z (n * interp, z_dim) and the labels, row by row,
    and for a class model each row's "class a -> class b"."""
    g, label_gen = seeded_generators(req.seed)
    rows, steps = req.n, req.interp
    z_dim = gen.model_config.z_dim
    chosen = parse_classes(req.classes, gen) if req.classes is not None else None  # errors for the wrong model kind
    fixed = parse_attrs(req.attrs, gen) if req.attrs is not None else None
    t_max = req.truncation[0] if req.truncation else None
    za = draw_latents(rows, gen.model_config, t_max, g)
    zb = draw_latents(rows, gen.model_config, t_max, g)
    t = torch.linspace(0, 1, steps)
    z = interpolate(za, zb, t, gen.model_config.z_dist).reshape(rows * steps, z_dim)
    y, walks = None, None
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
        names = gen.class_names
        walks = [f"{names[a]} -> {names[b]}" for a, b in zip(ya.tolist(), yb.tolist())]
    elif gen.label_kind == "attrs":
        y = data_labels(gen, rows, label_gen)
        for k, v in (fixed or {}).items():
            y[:, k] = v
        y = y.repeat_interleave(steps, dim=0)
    return z, y, walks
