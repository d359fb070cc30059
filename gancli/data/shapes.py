"""``shapes``: the built-in, procedurally generated, class-conditional dataset (no files).

Each image is one solid shape in a random colour on a plain, dark background of another random
colour. The class is a matter of global structure (one blob vs two, a hole, three bars ...), so a
generator has to get the whole layout right, not just local texture.

Rendering is vectorised: every class has a signed distance function ``sdf(x, y, r)`` (negative
inside) evaluated on a coordinate grid for many images at once, and the edge is antialiased over
one pixel with ``alpha = clip(0.5 - sdf * R, 0, 1)``. All random parameters are drawn up front from
``seed``, so any subset of images renders bit-identically, in memory or lazily.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from gancli.data.base import (
    DATASETS,
    GanDataset,
    check_size,
    check_split,
    declare_traits,
    in_memory_budget,
    reject_attrs,
)

DEFAULT_SIZE = 20_000
MIN_RADIUS, MAX_RADIUS = 0.30, 0.40  # half-extent of a shape, as a fraction of the image side
MARGIN = 0.04  # gap kept between a shape's bounding square and the image border
MAX_BACKGROUND = 0.35  # each background channel is uniform in [0, MAX_BACKGROUND]: dark colours
MIN_CONTRAST = 0.3  # |luma(shape) - luma(background)|, colours in [0, 1]
SPLIT_STREAMS = {"train": 0, "test": 1}

Sdf = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _circle(x, y, radius):
    return np.sqrt(x * x + y * y) - radius


def _box(x, y, half_width, half_height):
    """Exact signed distance to an axis-aligned box centred at the origin."""
    qx = np.abs(x) - half_width
    qy = np.abs(y) - half_height
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _convex_polygon(x, y, r, vertices: list[tuple[float, float]]):
    """Max of the signed distances to the edge lines of a convex polygon whose vertices are
    given in units of ``r``: exact inside, a slight underestimate just outside the corners."""
    cx = sum(vx for vx, _ in vertices) / len(vertices)
    cy = sum(vy for _, vy in vertices) / len(vertices)
    distance = None
    for (ax, ay), (bx, by) in zip(vertices, vertices[1:] + vertices[:1]):
        nx, ny = by - ay, ax - bx
        norm = (nx * nx + ny * ny) ** 0.5
        nx, ny = nx / norm, ny / norm
        if nx * (cx - ax) + ny * (cy - ay) > 0:  # make the normal point outwards
            nx, ny = -nx, -ny
        edge = nx * x + ny * y - r * (nx * ax + ny * ay)
        distance = edge if distance is None else np.maximum(distance, edge)
    return distance


def _square(x, y, r):
    return _box(x, y, 0.85 * r, 0.85 * r)


def _triangle(x, y, r):
    return _convex_polygon(x, y, r, [(0.0, -0.9), (1.0, 0.9), (-1.0, 0.9)])


def _ring(x, y, r):
    return np.abs(np.sqrt(x * x + y * y) - 0.72 * r) - 0.28 * r  # outer radius r, hole 0.44 r


def _plus(x, y, r):
    return np.minimum(_box(x, y, r, 0.3 * r), _box(x, y, 0.3 * r, r))


def _circle_pair(x, y, r):
    return np.minimum(_circle(x - 0.6 * r, y, 0.4 * r), _circle(x + 0.6 * r, y, 0.4 * r))


def _triangle_pair(x, y, r):
    """Mirror images: a left-pointing triangle on the left, a right-pointing one on the right."""
    left = _convex_polygon(x, y, r, [(-1.0, 0.0), (-0.2, -0.75), (-0.2, 0.75)])
    right = _convex_polygon(x, y, r, [(1.0, 0.0), (0.2, 0.75), (0.2, -0.75)])
    return np.minimum(left, right)


def _stripes(x, y, r):
    """Three horizontal bars of height 0.4 r separated by gaps of 0.4 r."""
    bars = [_box(x, y - offset * r, 0.9 * r, 0.2 * r) for offset in (-0.8, 0.0, 0.8)]
    return np.minimum(np.minimum(bars[0], bars[1]), bars[2])


SHAPES: dict[str, Sdf] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "ring": _ring,
    "plus": _plus,
    "circle-pair": _circle_pair,
    "triangle-pair": _triangle_pair,
    "stripes": _stripes,
}
SHAPE_CLASSES = tuple(SHAPES)


@dataclass(frozen=True)
class ShapeParams:
    """Everything random about N images (coordinates are fractions of the image side).

    labels: int64 (N,); centers: float32 (N, 2) as (x, y); radii: float32 (N,);
    background, foreground: float32 (N, 3) RGB in [0, 1].
    """

    labels: np.ndarray
    centers: np.ndarray
    radii: np.ndarray
    background: np.ndarray
    foreground: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> "ShapeParams":
        return ShapeParams(*(field[indices] for field in (
            self.labels, self.centers, self.radii, self.background, self.foreground)))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sample_params(n: int, seed: int, stream: int = 0) -> ShapeParams:
    """Draw the parameters of ``n`` images; classes are balanced to within one image."""
    rng = np.random.default_rng([seed, stream])
    labels = rng.permutation(np.arange(n) % len(SHAPES)).astype(np.int64)
    radii = rng.uniform(MIN_RADIUS, MAX_RADIUS, size=n).astype(np.float32)
    low = radii + MARGIN
    centers = (low[:, None] + rng.random((n, 2), dtype=np.float32) * (1 - 2 * low)[:, None]).astype(np.float32)
    background = rng.random((n, 3), dtype=np.float32) * np.float32(MAX_BACKGROUND)
    foreground = rng.random((n, 3), dtype=np.float32)
    # Redraw shape colours until each one stands out from its background in brightness.
    while True:
        dull = np.abs(_luma(foreground) - _luma(background)) < MIN_CONTRAST
        if not dull.any():
            break
        foreground[dull] = rng.random((int(dull.sum()), 3), dtype=np.float32)
    return ShapeParams(labels, centers, radii, background, foreground)


def render_shapes(params: ShapeParams, res: int, chunk_pixels: int = 1 << 21) -> np.ndarray:
    """Render every image in ``params`` -> uint8 ``(N, 3, res, res)``.

    Works in chunks of about ``chunk_pixels`` pixels (small float temporaries), spread over a
    few threads: numpy releases the GIL inside these array operations.
    """
    n = len(params)
    out = np.empty((n, 3, res, res), dtype=np.uint8)
    step = max(1, chunk_pixels // (res * res))
    chunks = [(start, min(n, start + step)) for start in range(0, n, step)]
    if len(chunks) == 1:
        _render_chunk(params, res, out, *chunks[0])
        return out
    workers = min(len(chunks), os.cpu_count() or 1, 8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(_render_chunk, params, res, out, start, stop) for start, stop in chunks]:
            future.result()
    return out


def shape_distances(params: ShapeParams, res: int, start: int, stop: int) -> np.ndarray:
    """float32 ``(stop - start, res, res)``: each pixel centre's signed distance to the border of
    its image's shape, in image-side units (negative inside)."""
    grid = (np.arange(res, dtype=np.float32) + 0.5) / res  # pixel centres in [0, 1]
    distance = np.empty((stop - start, res, res), dtype=np.float32)
    labels = params.labels[start:stop]
    for class_id, sdf in enumerate(SHAPES.values()):
        members = np.flatnonzero(labels == class_id)
        if members.size == 0:
            continue
        rows = start + members
        x = grid[None, None, :] - params.centers[rows, 0, None, None]  # (m, 1, R)
        y = grid[None, :, None] - params.centers[rows, 1, None, None]  # (m, R, 1)
        distance[members] = sdf(x, y, params.radii[rows, None, None])  # (m, R, R)
    return distance


def _render_chunk(params: ShapeParams, res: int, out: np.ndarray, start: int, stop: int) -> None:
    """Render images ``start:stop`` into ``out[start:stop]``."""
    alpha = np.clip(0.5 - shape_distances(params, res, start, stop) * res, 0.0, 1.0)  # antialiased over a pixel
    # pixel = background + alpha * (foreground - background), rounded half up; one channel at a
    # time and in place, because this blend costs more than all the distance functions together.
    blend = np.empty_like(alpha)
    offset = params.background[start:stop] * 255 + 0.5
    difference = (params.foreground[start:stop] - params.background[start:stop]) * 255
    for channel in range(3):
        np.multiply(alpha, difference[:, channel, None, None], out=blend)
        blend += offset[:, channel, None, None]
        out[start:stop, channel] = blend  # float -> uint8 truncates; values lie in [0.5, 255.5]


class ShapesDataset(GanDataset):
    """Shapes too many to keep at this resolution: rendered per item / per batch."""

    def __init__(self, *, params: ShapeParams, **kwargs):
        super().__init__(images=None, **kwargs)
        self._params = params

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = render_shapes(self._params.take(np.array([index])), self.resolution)[0]
        return torch.from_numpy(image), self.labels[index]

    def _decode_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = render_shapes(self._params.take(indices.numpy()), self.resolution)
        return torch.from_numpy(images), self.labels[indices]


declare_traits("shapes", generated=True, default_extractor="shapes-factor-net", shapes_scenes=True)


@DATASETS.register("shapes")
def build_shapes(*, root, res, cond, attrs, split, download, seed, size) -> GanDataset:
    """``size`` (default 20000) images at ``res``; ``root`` and ``download`` are ignored.
    ``split="test"`` draws from an independent random stream of the same seed."""
    reject_attrs("shapes", attrs)
    check_split("shapes", split, tuple(SPLIT_STREAMS))
    check_size(size)
    n = DEFAULT_SIZE if size is None else size
    params = sample_params(n, seed, SPLIT_STREAMS[split])
    labels = torch.from_numpy(params.labels) if cond else torch.zeros(n, dtype=torch.int64)
    common = dict(name="shapes", resolution=res, channels=3, label_kind="class" if cond else "none",
                  labels=labels, class_names=SHAPE_CLASSES)
    if in_memory_budget(n, 3, res):
        return GanDataset(images=torch.from_numpy(render_shapes(params, res)), **common)
    return ShapesDataset(params=params, **common)
