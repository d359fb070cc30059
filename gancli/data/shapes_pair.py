"""``shapes-pair``: the built-in two-domain dataset (no files), deterministic by seed.

One random scene of :mod:`gancli.data.shapes` (class, centre, size, two colours), drawn in two
styles:

    A: the shape filled, in its colour, on a dark background: exactly ``shapes``' rendering.
    B: the same shape outlined (stroke only) on a light background, in the negatives of A's
       colours: stroke ``1 - foreground`` on ``1 - background``. Negating both keeps shapes'
       brightness contrast (>= MIN_CONTRAST), and makes B's colours a function of A's, so that the
       translation A -> B has one right answer.

The outline is the difference of the shape's mask and its mask eroded by STROKE (1/16 of the
image side: 2 px at 32, 4 px at 64): ``alpha = clip(0.5 - d R) - clip(0.5 - (d + STROKE) R)``
with ``d`` the signed distance (negative inside) and ``R`` the resolution, so the stroke lies
inside A's filled shape, along its boundary (both boundaries of a ring).

Training draws A's and B's scenes from independent random streams (B's scene i is not A's), as
unpaired data must be. ``ground_truth(split)`` renders A's scenes of that split in both styles:
the known translation, for measuring translation error. ``narrow_b`` puts every B shape at the
image centre with one radius (NARROW_RADIUS), keeping B's classes and colours: a narrow domain,
to reproduce CycleGAN's failure where all A -> B outputs share that one pose.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch

from gancli.data.base import GanDataset, in_memory_budget, to_float
from gancli.data.pairs import PAIR_DATASETS, TwoDomainDataset
from gancli.data.shapes import (
    DEFAULT_SIZE,
    MAX_RADIUS,
    MIN_RADIUS,
    SHAPE_CLASSES,
    ShapeParams,
    render_shapes,
    sample_params,
    shape_distances,
)

STROKE = 1 / 16  # outline width, as a fraction of the image side
NARROW_RADIUS = (MIN_RADIUS + MAX_RADIUS) / 2  # narrow_b: every B shape at the centre, this size
# Random streams of one seed (shapes itself uses 0 and 1): A and B of each split are independent.
STREAMS = {("train", "A"): 10, ("train", "B"): 11, ("test", "A"): 12, ("test", "B"): 13}

Renderer = Callable[[ShapeParams, int], np.ndarray]


def render_outlines(params: ShapeParams, res: int, chunk_pixels: int = 1 << 21) -> np.ndarray:
    """Render every scene in ``params`` in B's style -> uint8 ``(N, 3, res, res)``: an inner stroke
    of width STROKE in ``1 - foreground`` on ``1 - background``."""
    n = len(params)
    out = np.empty((n, 3, res, res), dtype=np.uint8)
    step = max(1, chunk_pixels // (res * res))
    for start in range(0, n, step):
        stop = min(n, start + step)
        alpha = _stroke_alpha(params, res, start, stop)
        background = 1.0 - params.background[start:stop]
        foreground = 1.0 - params.foreground[start:stop]
        offset = background * 255 + 0.5
        difference = (foreground - background) * 255
        for channel in range(3):  # the same blend and rounding as shapes' fill
            blend = alpha * difference[:, channel, None, None] + offset[:, channel, None, None]
            out[start:stop, channel] = blend  # float -> uint8 truncates; values lie in [0.5, 255.5]
    return out


def _stroke_alpha(params: ShapeParams, res: int, start: int, stop: int) -> np.ndarray:
    """float32 ``(stop - start, res, res)``: filled mask minus the mask eroded by STROKE, each
    antialiased over one pixel as shapes does (``clip(0.5 - d R, 0, 1)``)."""
    distance = shape_distances(params, res, start, stop)
    fill = np.clip(0.5 - distance * res, 0.0, 1.0)
    eroded = np.clip(0.5 - (distance + np.float32(STROKE)) * res, 0.0, 1.0)
    return fill - eroded


def scene_params(split: str, domain: str, n: int, seed: int, narrow: bool = False) -> ShapeParams:
    """The ``n`` scenes of one domain and split; ``narrow``: centred, radius NARROW_RADIUS."""
    params = sample_params(n, seed, STREAMS[(split, domain)])
    if narrow:
        params = dataclasses.replace(
            params,
            centers=np.full((n, 2), 0.5, dtype=np.float32),
            radii=np.full(n, NARROW_RADIUS, dtype=np.float32),
        )
    return params


class SceneDataset(GanDataset):
    """Scenes too many to keep at this resolution: rendered per item / per batch by ``render``."""

    def __init__(self, *, params: ShapeParams, render: Renderer, **kwargs):
        super().__init__(images=None, **kwargs)
        self._params = params
        self._render = render

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._decode_batch(torch.tensor([index]))[0][0], self.labels[index]

    def _decode_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = self._render(self._params.take(indices.numpy()), self.resolution)
        return torch.from_numpy(images), self.labels[indices]


def _domain_dataset(name: str, params: ShapeParams, render: Renderer, res: int) -> GanDataset:
    """Unconditional GanDataset of ``params`` (the classes live on the TwoDomainDataset)."""
    n = len(params)
    common = dict(name=name, resolution=res, channels=3, label_kind="none", labels=torch.zeros(n, dtype=torch.int64))
    if in_memory_budget(n, 3, res):
        return GanDataset(images=torch.from_numpy(render(params, res)), **common)
    return SceneDataset(params=params, render=render, **common)


@PAIR_DATASETS.register("shapes-pair")
def build_shapes_pair(*, root, res, split, seed, size, narrow_b) -> TwoDomainDataset:
    """``size`` (default 20000) scenes per domain at ``res``; ``root`` is ignored."""
    n = DEFAULT_SIZE if size is None else size
    params_a = scene_params(split, "A", n, seed)
    params_b = scene_params(split, "B", n, seed, narrow=narrow_b)

    def ground_truth(truth_split: str, count: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scenes = scene_params(truth_split, "A", n, seed)
        scenes = scenes.take(np.arange(min(n, count if count is not None else n)))
        a = to_float(torch.from_numpy(render_shapes(scenes, res)))
        b = to_float(torch.from_numpy(render_outlines(scenes, res)))
        return a, b, torch.from_numpy(scenes.labels)

    return TwoDomainDataset(
        name="shapes-pair",
        split=split,
        a=_domain_dataset("shapes-pair/A", params_a, render_shapes, res),
        b=_domain_dataset("shapes-pair/B" + (" (narrow)" if narrow_b else ""), params_b, render_outlines, res),
        source="(filled shapes on dark -> outlines on light" + (", B narrowed to one pose)" if narrow_b else ")"),
        class_names=list(SHAPE_CLASSES),
        a_classes=torch.from_numpy(params_a.labels),
        b_classes=torch.from_numpy(params_b.labels),
        ground_truth=ground_truth,
    )
