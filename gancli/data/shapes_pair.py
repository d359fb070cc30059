"""``shapes-pair``: the built-in two-domain dataset (no files), deterministic by seed.

One random scene of :mod:`gancli.data.shapes` (class, centre, size), drawn in two styles:

    A: the shape filled in its class's colour (PALETTE) on a dark background (BACKGROUND), with
       shapes' renderer.
    B: the same shape as a line drawing: its outline (stroke only) in dark ink (B_STROKE) on light
       paper (B_BACKGROUND).

A -> B is then local (find the edge, ink it), and B -> A asks for recognition (which shape is it,
so which colour fills it). Why A's colours follow the class (where ``shapes`` draws them at
random): CycleGAN's ResNet generator normalises every feature map of every image (instance norm),
so of a scene of two flat colours it sees only which way the colour *difference* points, never
the colours themselves; a random colour could not be recovered from a line drawing, nor carried
through the network, and the translation would have no right answer the paper's network can give.
(A first version inverted random colours between the domains: the networks drew every shape in
one mean colour, and A -> B hid the colour in faint noise for the cycle to read back.) With the
colours a function of the shape, A -> B and B -> A each have one right answer that such a network
can learn, and the error against it measures translation, not a colour lottery.

The outline is the difference of the shape's mask and its mask eroded by STROKE (1/16 of the
image side: 2 px at 32, 4 px at 64): ``alpha = clip(0.5 - d R) - clip(0.5 - (d + STROKE) R)``
with ``d`` the signed distance (negative inside) and ``R`` the resolution, so the stroke lies
inside A's filled shape, along its boundary (both boundaries of a ring).

Training draws A's and B's scenes from independent random streams (B's scene i is not A's), as
unpaired data must be. ``ground_truth(split)`` renders A's scenes of that split in both styles:
the known translation, for measuring translation error. ``narrow_b`` puts every B shape at the
image centre with one radius (NARROW_RADIUS), keeping B's classes: a narrow domain, to reproduce
CycleGAN's failure where all A -> B outputs share that one pose.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch

from gancli.data.base import GanDataset, declare_traits, in_memory_budget, to_float
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
#: A's shape colour per class (circle, square, triangle, ring, plus, circle-pair, triangle-pair,
#: stripes), RGB in [0, 1]; each stands out from BACKGROUND by at least shapes' MIN_CONTRAST in luma
PALETTE = np.array([[0.95, 0.35, 0.25], [0.25, 0.65, 0.95], [0.95, 0.85, 0.25], [0.35, 0.85, 0.40],
                    [0.85, 0.40, 0.90], [0.30, 0.90, 0.85], [0.95, 0.60, 0.20], [0.70, 0.70, 0.95]], dtype=np.float32)
BACKGROUND = np.array([0.08, 0.08, 0.12], dtype=np.float32)  # A's background
B_BACKGROUND = np.array([0.94, 0.93, 0.88], dtype=np.float32)  # B: a dark stroke on paper
B_STROKE = np.array([0.12, 0.12, 0.16], dtype=np.float32)
NARROW_RADIUS = (MIN_RADIUS + MAX_RADIUS) / 2  # narrow_b: every B shape at the centre, this size
# Random streams of one seed (shapes itself uses 0 and 1): A and B of each split are independent.
STREAMS = {("train", "A"): 10, ("train", "B"): 11, ("test", "A"): 12, ("test", "B"): 13}

Renderer = Callable[[ShapeParams, int], np.ndarray]


def render_outlines(params: ShapeParams, res: int, chunk_pixels: int = 1 << 21) -> np.ndarray:
    """Render every scene in ``params`` in B's style -> uint8 ``(N, 3, res, res)``: an inner stroke
    of width STROKE in B_STROKE on B_BACKGROUND (the scenes' colours are not used)."""
    n = len(params)
    out = np.empty((n, 3, res, res), dtype=np.uint8)
    step = max(1, chunk_pixels // (res * res))
    for start in range(0, n, step):
        stop = min(n, start + step)
        alpha = _stroke_alpha(params, res, start, stop)
        background = np.broadcast_to(B_BACKGROUND, (stop - start, 3))
        foreground = np.broadcast_to(B_STROKE, (stop - start, 3))
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
    """The ``n`` scenes of one domain and split, in A's colours (PALETTE by class on BACKGROUND);
    ``narrow``: centred, radius NARROW_RADIUS."""
    params = sample_params(n, seed, STREAMS[(split, domain)])
    params = dataclasses.replace(params, foreground=PALETTE[params.labels],
                                 background=np.broadcast_to(BACKGROUND, (n, 3)).copy())
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


declare_traits("shapes-pair", generated=True, default_extractor="shapes-pair-net")


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
