"""Text in the margins of a picture: row names on the left, column names and a title on top.

A grid PNG that leaves the terminal (into a paper, a chat, a slide) has to say what its rows are:
the class of each row of ``gancli sample --class all``, the t of each row of a truncation sweep, the
variant of each row of a study's samples.png, the step of each frame of progress.gif. ``annotate``
adds white margins around the grid with that text in black, and never draws over an image: the grid
is copied unchanged into the bottom-right corner of the result (tested), so the pixels of every
tile are still the generator's. Fonts: Pillow's built-in scalable font (no font file is read from
the system, so a picture looks the same everywhere); Pillow without FreeType falls back to its
bitmap font.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PX = 13  # legible on a 64 px tile at 100% zoom; the smallest size column names shrink to is MIN_FONT_PX
MIN_FONT_PX = 8
MARGIN = 4  # white pixels between text and the grid or the picture's edge
INK = (0, 0, 0)


@lru_cache(maxsize=8)
def font(size: int = FONT_PX) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or built without FreeType: the bitmap font
        return ImageFont.load_default()


def text_size(text: str, face) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn in ``face`` (height: the font's full line height)."""
    left, _, right, _ = face.getbbox(text)
    _, top, _, bottom = face.getbbox("Ag")
    return right - left, bottom - top


def _write(draw: ImageDraw.ImageDraw, x: int, y: int, text: str, face) -> None:
    """``text`` with its ink box's left edge at x and the font's line (``text_size``) from y down."""
    left = face.getbbox(text)[0]
    top = face.getbbox("Ag")[1]
    draw.text((x - left, y - top), text, font=face, fill=INK)


@dataclass(frozen=True)
class Cells:
    """Where the tiles of a grid lie, in its pixels: ``rows`` x ``cols`` tiles of ``height`` x
    ``width`` with ``pad`` pixels before, between and after them (``viz.grid.tile``'s layout, times
    the upscale factor)."""
    rows: int
    cols: int
    height: int
    width: int
    pad: int

    def row_centre(self, r: int) -> int:
        return self.pad + r * (self.height + self.pad) + self.height // 2

    def column_centre(self, c: int) -> int:
        return self.pad + c * (self.width + self.pad) + self.width // 2


def fitted(text: str, width: int) -> tuple[str, ImageFont.ImageFont]:
    """``text`` in the largest font from FONT_PX down to MIN_FONT_PX that fits ``width`` pixels;
    shortened with an ellipsis when even the smallest does not."""
    for size in range(FONT_PX, MIN_FONT_PX - 1, -1):
        face = font(size)
        if text_size(text, face)[0] <= width:
            return text, face
    face = font(MIN_FONT_PX)
    while len(text) > 1 and text_size(text + "…", face)[0] > width:
        text = text[:-1]
    return text + "…", face


def annotate(grid: np.ndarray, cells: Cells, rows: Sequence[str] | None = None,
             columns: Sequence[str] | None = None, title: str | None = None) -> np.ndarray:
    """``grid`` (uint8 (H, W, 3)) with a left margin naming each row (centred on it), a top strip
    naming each column (centred over it, shrunk to the column's width) and a title line above all.
    The grid stays in the bottom-right corner, unchanged. Nothing given: ``grid`` itself."""
    if not rows and not columns and not title:
        return grid
    face = font()
    line = text_size("Ag", face)[1]
    left = MARGIN * 2 + max(text_size(r, face)[0] for r in rows) if rows else 0
    column_strip = line + MARGIN if columns else 0
    title_strip = line + MARGIN * 2 if title else 0
    top = title_strip + column_strip
    height, width = grid.shape[:2]
    title_width = text_size(title, face)[0] + 2 * MARGIN if title else 0
    left = max(left, title_width - width)  # a title wider than the grid widens the left margin
    canvas = Image.new("RGB", (left + width, top + height), (255, 255, 255))
    canvas.paste(Image.fromarray(grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        _write(draw, MARGIN, MARGIN, title, face)
    for r, text in enumerate(rows or []):
        _write(draw, MARGIN, top + cells.row_centre(r) - line // 2, text, face)
    for c, text in enumerate(columns or []):
        text, small = fitted(text, cells.width + cells.pad)
        x = left + cells.column_centre(c) - text_size(text, small)[0] // 2
        _write(draw, x, top - MARGIN // 2 - text_size(text, small)[1], text, small)
    return np.asarray(canvas)


__all__ = ["Cells", "annotate", "fitted", "font", "text_size", "FONT_PX"]
