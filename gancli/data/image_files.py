"""Decoding image files: open -> RGB -> centre square crop -> Lanczos resize -> uint8 (3, R, R).

Shared by ``folder`` and ``celeba``; :class:`ImageFileDataset` decodes per item, and
:func:`decode_all` decodes a whole list up front (on a few threads: PIL releases the GIL while
decoding and resizing).
"""
from __future__ import annotations

import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from gancli.data.base import GanDataset
from gancli.errors import GancliError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# What PIL raises on a truncated, corrupt or foreign file.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels are composited onto white, not left black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_square(path: str | Path, res: int, crop: int | None = None) -> torch.Tensor:
    """Decode one file -> uint8 ``(3, res, res)``.

    The centre square of side ``min(crop, width, height)`` (``crop=None``: the short side) is
    cut out and resized with Lanczos. Multi-frame files (GIF) give their first frame.
    Raises one of DECODE_ERRORS when the file cannot be read.
    """
    with Image.open(path) as image:
        if crop is None and image.format == "JPEG":
            # Let the JPEG decoder shrink by 1/2, 1/4 or 1/8 (much faster on big photos) while
            # the short side stays >= 2 * res, so that Lanczos still does the final reduction.
            # Not with an explicit crop: DCT-domain scaling would blur pixels across its edge.
            scale = 2 * res / min(image.size)
            image.draft("RGB", (math.ceil(image.size[0] * scale), math.ceil(image.size[1] * scale)))
        width, height = image.size
        side = min(width, height) if crop is None else min(crop, width, height)
        left, top = (width - side) // 2, (height - side) // 2
        rgb = _to_rgb(image)
    # Crop before resizing: resize(box=...) would let the filter read pixels outside the box.
    square = rgb.crop((left, top, left + side, top + side)).resize((res, res), Image.LANCZOS)
    return torch.from_numpy(np.asarray(square, dtype=np.uint8).transpose(2, 0, 1).copy())


def looks_like_image(path: str | Path) -> bool:
    """Cheap header check (no pixel decoding): PIL recognises the file and it has a size."""
    try:
        with Image.open(path) as image:
            return image.size[0] > 0 and image.size[1] > 0
    except DECODE_ERRORS:
        return False


def check_all(paths: Sequence[str | Path]) -> list[bool]:
    """:func:`looks_like_image` for every path, on a few threads (file opening is I/O bound)."""
    return _parallel_map(looks_like_image, [str(path) for path in paths])


def _parallel_map(function, jobs: list, min_jobs: int = 64) -> list:
    """``[function(job) for job in jobs]``, in order, on threads when there are enough jobs."""
    workers = max(1, min(8, os.cpu_count() or 1))
    if workers == 1 or len(jobs) < min_jobs:
        return [function(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, jobs, chunksize=max(1, min(32, len(jobs) // workers))))


def _try_load(args: tuple[str, int, int | None]) -> torch.Tensor | None:
    path, res, crop = args
    try:
        return load_square(path, res, crop)
    except DECODE_ERRORS:
        return None


def decode_all(paths: Sequence[str | Path], res: int, crop: int | None = None) -> list[torch.Tensor | None]:
    """Decode every file (None for the unreadable ones), keeping the order of ``paths``."""
    return _parallel_map(_try_load, [(str(path), res, crop) for path in paths])


class ImageFileDataset(GanDataset):
    """Files decoded per item: ``paths[i]`` -> uint8 ``(3, R, R)`` via :func:`load_square`.

    A file that fails to decode at training time (truncated after the listing was made) is
    reported once with a warning, counted in ``skipped``, and replaced by the next readable
    file, together with that file's label.
    """

    def __init__(self, *, paths: Sequence[str | Path], crop: int | None = None, **kwargs):
        super().__init__(images=None, channels=3, **kwargs)
        self.paths = [str(path) for path in paths]
        self.crop = crop
        self._unreadable: set[int] = set()

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._unreadable:
                continue
            try:
                image = load_square(self.paths[candidate], self.resolution, self.crop)
            except DECODE_ERRORS as error:
                self._unreadable.add(candidate)
                self.skipped += 1
                warnings.warn(f"skipping unreadable image {self.paths[candidate]}: {error}", stacklevel=2)
                continue
            return image, self.labels[candidate]
        raise GancliError(f"{self.name}: none of the {len(self)} image files could be decoded")

    def _decode_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode a batch on a few threads (PIL releases the GIL): ``(uint8 (B, 3, R, R), labels)``."""
        items = _parallel_map(self._decode, [int(i) for i in indices], min_jobs=2)
        if not items:
            return torch.empty((0, 3, self.resolution, self.resolution), dtype=torch.uint8), self.labels[indices]
        return torch.stack([image for image, _ in items]), torch.stack([label for _, label in items])
