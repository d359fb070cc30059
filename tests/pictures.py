"""Reading labelled pictures back in tests: where the grid is, and which text is at which row.

A labelled picture is the grid in its bottom-right corner with white margins left and on top
(gancli.viz.labels.annotate). ``row_ink`` finds the dark pixels of the left margin at each row, so
a test can check that the text there has the width of the name it should be, measured with the
font on its own (not by re-drawing the picture).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from gancli.viz.labels import font, text_size

INK_BELOW = 128  # a margin pixel darker than this (in every channel) is text


def read_rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def split(picture: np.ndarray, grid_h: int, grid_w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, left margin, top strip) of a picture whose grid is grid_h x grid_w."""
    h, w = picture.shape[:2]
    return picture[h - grid_h:, w - grid_w:], picture[h - grid_h:, : w - grid_w], picture[: h - grid_h]


def ink(area: np.ndarray) -> np.ndarray:
    return (area < INK_BELOW).all(axis=-1)


def ink_width(area: np.ndarray) -> int:
    """Columns from the first to the last dark pixel of ``area`` (0 when there is none)."""
    columns = np.flatnonzero(ink(area).any(axis=0))
    return 0 if len(columns) == 0 else int(columns[-1] - columns[0] + 1)


def row_ink(margin: np.ndarray, rows: int, pitch: int, pad: int) -> list[int]:
    """The width of the text in the left margin beside each of ``rows`` rows of tiles ``pitch``
    pixels apart (tile height + pad), each band the row's own height."""
    return [ink_width(margin[pad + r * pitch: pad + r * pitch + pitch - pad]) for r in range(rows)]


def width_of(text: str) -> int:
    """The width of the ink of ``text`` drawn alone in the labels' font, measured as ``row_ink``
    measures a margin."""
    face = font()
    canvas = Image.new("RGB", (text_size(text, face)[0] + 20, 40), (255, 255, 255))
    ImageDraw.Draw(canvas).text((10, 10), text, font=face, fill=(0, 0, 0))
    return ink_width(np.asarray(canvas))


def assert_rows_named(margin: np.ndarray, names: list[str], pitch: int, pad: int, tolerance: int = 1) -> None:
    found = row_ink(margin, len(names), pitch, pad)
    expected = [width_of(name) for name in names]
    assert all(abs(f - e) <= tolerance for f, e in zip(found, expected)), (found, expected, names)
    assert not ink(margin[pad + len(names) * pitch:]).any()  # nothing below the last row
