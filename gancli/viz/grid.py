"""Image grids and animated GIFs from (N, C, H, W) tensors in [-1, 1]."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from gancli.checkpoint import atomic_write_bytes
from gancli.viz.labels import Cells, annotate


def quantize(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> uint8 (N, 3, H, W) on x's device, the pixels a saved PNG holds;
    one-channel images are repeated to RGB (as FID tools expect)."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> uint8 (N, H, W, 3) on the CPU; one-channel images repeated to RGB."""
    return quantize(x.detach().cpu()).permute(0, 2, 3, 1).contiguous()


def grid_array(x: torch.Tensor, nrow: int, pad: int = 2) -> np.ndarray:
    """Tiles N images (N, C, H, W) in [-1, 1] into rows of ``nrow``: uint8 (rows*(H+pad)+pad, nrow*(W+pad)+pad, 3)."""
    return tile(to_uint8(x), nrow, pad)


def grid_size(n: int, nrow: int, h: int, w: int, pad: int = 2) -> tuple[int, int]:
    """(height, width) in pixels of ``tile``'s grid of n images of h x w, ``nrow`` per row."""
    rows = (n + nrow - 1) // nrow
    return rows * (h + pad) + pad, nrow * (w + pad) + pad


def tile(images: torch.Tensor | np.ndarray, nrow: int, pad: int = 2) -> np.ndarray:
    """Tiles uint8 images (N, H, W, 3) into rows of ``nrow``, on a white background."""
    imgs = np.asarray(images)
    n, h, w, _ = imgs.shape
    out = np.full((*grid_size(n, nrow, h, w, pad), 3), 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = imgs[i]
    return out


DISPLAY_TILE = 64  # pixels: a grid's tiles are upscaled to at least this by default


def display_scale(res: int) -> int:
    """The integer factor that brings a ``res`` px tile to at least DISPLAY_TILE px (1 for 64 px and
    more): 2 for 32 px, 4 for 16 px."""
    return max(1, -(-DISPLAY_TILE // res))


def upscale(array: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) -> (H * scale, W * scale, C), each pixel a ``scale`` x ``scale`` block (nearest
    neighbour: no pixel value is made up)."""
    return array if scale == 1 else array.repeat(scale, axis=0).repeat(scale, axis=1)


def save_png(array: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    img = Image.fromarray(upscale(array, scale))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write_bytes(Path(path), lambda f: f.write(buf.getvalue()))
    return Path(path)


def save_grid(x: torch.Tensor, path: str | Path, nrow: int, scale: int = 1) -> Path:
    return save_png(grid_array(x, nrow), path, scale)


def save_gif(frames: Sequence[str | Path | np.ndarray], path: str | Path, duration_ms: int = 300,
             titles: Sequence[str] | None = None) -> Path:
    """An endlessly looping GIF of ``frames`` (arrays or image files); with ``titles`` each frame gets
    its line of text in a white strip on top (``viz.labels.annotate``)."""
    arrays = [f if isinstance(f, np.ndarray) else np.asarray(Image.open(f).convert("RGB")) for f in frames]
    if titles is not None:
        arrays = [annotate(a, Cells(1, 1, *a.shape[:2], 0), title=t) for a, t in zip(arrays, titles, strict=True)]
        width = max(a.shape[1] for a in arrays)  # one frame size: a wider title widens every frame alike
        arrays = [np.pad(a, ((0, 0), (width - a.shape[1], 0), (0, 0)), constant_values=255) for a in arrays]
    images = [Image.fromarray(a) for a in arrays]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    atomic_write_bytes(Path(path), lambda f: f.write(buf.getvalue()))
    return Path(path)
