"""Decoding image files: open -> RGB -> centre square crop -> Lanczos resize -> uint8 (3, R, R).

Shared by ``folder`` and ``celeba``; :class:`ImageFileDataset` decodes per item, and
:func:`decode_all` decodes a whole list up front (on a few threads: PIL releases the GIL while
decoding and resizing).

Hostile files: the format is taken from the content, and only PNG, JPEG, WebP, BMP and GIF are
opened (PIL would otherwise accept any of its formats whatever the extension; EPS, for one, is
rendered by running Ghostscript). A decompression bomb (a PNG of a few hundred KB declaring
13000x13000 pixels, 2 GB once decoded) is refused from its header, before any pixel is decoded:
see MAX_IMAGE_PIXELS.
"""
from __future__ import annotations

import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from gancli.data.base import TOO_LARGE, UNREADABLE, GanDataset
from gancli.errors import GancliError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
PIL_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # what Image.open may detect, by content
# The most pixels a header may declare: 64 MP (8192x8192, or 16384x4096 ...), below PIL's own
# warning threshold (about 89 MP). Decoding one such image takes up to ~256 MB (RGBA), per thread.
MAX_IMAGE_PIXELS = 8192 * 8192


class ImageTooLarge(ValueError):
    """The header declares more than MAX_IMAGE_PIXELS pixels."""


# What PIL raises on a truncated, corrupt, foreign or oversized file.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                 Image.DecompressionBombWarning)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def skip_reason(error: BaseException) -> str:
    """The SkipReport reason for a DECODE_ERRORS exception: "too large" or "unreadable"."""
    bombs = (ImageTooLarge, Image.DecompressionBombError, Image.DecompressionBombWarning)
    return TOO_LARGE if isinstance(error, bombs) else UNREADABLE


@contextmanager
def bomb_warnings_as_errors():
    """Make PIL's DecompressionBombWarning an exception (PIL only warns up to twice its limit).

    The filter list is process-wide and ``catch_warnings`` is not safe to enter from several
    threads at once, so the calling thread enters this around a whole batch of decoding work.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def open_image(path: str | Path) -> Image.Image:
    """``Image.open`` limited to PIL_FORMATS; raises ImageTooLarge when the header declares more
    than MAX_IMAGE_PIXELS pixels. Only the header has been read when it returns."""
    image = Image.open(path, formats=PIL_FORMATS)
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise ImageTooLarge(f"{width}x{height} pixels is over the {MAX_IMAGE_PIXELS // 2**20} MP limit")
    return image


def _high_depth_grey_to_l(image: Image.Image) -> Image.Image:
    """Modes I;16* / I / F -> L, scaled rather than clipped (PIL's convert clips at 255, so a
    16-bit PNG came out nearly white).

    I;16* and I hold 16-bit samples (16-bit PNG, TIFF): ``round(x / 257)`` maps 0..65535 onto
    0..255 exactly (65535 -> 255); I values outside 0..65535 are clipped. F is taken as floats in
    [0, 1] (values outside are clipped, NaN -> 0): a fixed range, so that every image of a dataset
    is scaled alike, which a per-image min-max stretch would not do.
    """
    values = np.asarray(image, dtype=np.float32)
    if image.mode == "F":
        scaled = np.nan_to_num(values, nan=0.0).clip(0.0, 1.0) * 255.0
    else:
        scaled = values.clip(0.0, 65535.0) / 257.0
    return Image.fromarray(np.rint(scaled).astype(np.uint8), "L")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels are composited onto white, not left black;
    high-bit-depth grey is scaled to 8 bits (:func:`_high_depth_grey_to_l`)."""
    if image.mode.startswith("I") or image.mode == "F":
        return _high_depth_grey_to_l(image).convert("RGB")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_square(path: str | Path, res: int, crop: int | None = None) -> torch.Tensor:
    """Decode one file -> uint8 ``(3, res, res)``.

    The centre square of side ``min(crop, width, height)`` (``crop=None``: the short side) is
    cut out and resized with Lanczos. Multi-frame files (GIF) give their first frame.
    Raises one of DECODE_ERRORS when the file cannot be read or is too large (ImageTooLarge).
    """
    with open_image(path) as image:
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


def header_problem(path: str | Path) -> str | None:
    """Cheap header check (no pixel decoding): None when PIL recognises the file as one of
    PIL_FORMATS with a size within MAX_IMAGE_PIXELS, else the SkipReport reason."""
    try:
        with open_image(path) as image:
            return None if image.size[0] > 0 and image.size[1] > 0 else UNREADABLE
    except DECODE_ERRORS as error:
        return skip_reason(error)


def check_all(paths: Sequence[str | Path]) -> list[str | None]:
    """:func:`header_problem` for every path, on a few threads (file opening is I/O bound)."""
    with bomb_warnings_as_errors():
        return _parallel_map(header_problem, [str(path) for path in paths])


def _parallel_map(function, jobs: list, min_jobs: int = 64) -> list:
    """``[function(job) for job in jobs]``, in order, on threads when there are enough jobs."""
    workers = max(1, min(8, os.cpu_count() or 1))
    if workers == 1 or len(jobs) < min_jobs:
        return [function(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, jobs, chunksize=max(1, min(32, len(jobs) // workers))))


def _try_load(args: tuple[str, int, int | None]) -> torch.Tensor | str:
    path, res, crop = args
    try:
        return load_square(path, res, crop)
    except DECODE_ERRORS as error:
        return skip_reason(error)


def decode_all(paths: Sequence[str | Path], res: int, crop: int | None = None) -> list[torch.Tensor | str]:
    """Decode every file, keeping the order of ``paths``: the uint8 image, or for a file that
    cannot be used the SkipReport reason ("unreadable", "too large")."""
    with bomb_warnings_as_errors():
        return _parallel_map(_try_load, [(str(path), res, crop) for path in paths])


class ImageFileDataset(GanDataset):
    """Files decoded per item: ``paths[i]`` -> uint8 ``(3, R, R)`` via :func:`load_square`.

    A file that fails to decode at training time (truncated after the listing was made) is
    reported once with a warning, counted in ``skip_report``, and replaced by the next readable
    file, together with that file's label.
    """

    def __init__(self, *, paths: Sequence[str | Path], crop: int | None = None, **kwargs):
        super().__init__(images=None, channels=3, **kwargs)
        self.paths = [str(path) for path in paths]
        self.crop = crop
        self._unreadable: set[int] = set()

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        with bomb_warnings_as_errors():
            return self._decode_in_context(index)

    def _decode_in_context(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._unreadable:
                continue
            try:
                image = load_square(self.paths[candidate], self.resolution, self.crop)
            except DECODE_ERRORS as error:
                self._unreadable.add(candidate)
                self.skip_report.add(skip_reason(error), self.paths[candidate])
                warnings.warn(f"skipping unreadable image {self.paths[candidate]}: {error}", stacklevel=2)
                continue
            return image, self.labels[candidate]
        raise GancliError(f"{self.name}: none of the {len(self)} image files could be decoded")

    def _decode_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode a batch on a few threads (PIL releases the GIL): ``(uint8 (B, 3, R, R), labels)``."""
        with bomb_warnings_as_errors():
            items = _parallel_map(self._decode_in_context, [int(i) for i in indices], min_jobs=2)
        if not items:
            return torch.empty((0, 3, self.resolution, self.resolution), dtype=torch.uint8), self.labels[indices]
        return torch.stack([image for image, _ in items]), torch.stack([label for _, label in items])
