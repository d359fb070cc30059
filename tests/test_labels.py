"""Labels in the margins of pictures (gancli.viz.labels) and the upscaling of grids (gancli.viz.grid)."""
import numpy as np
import pytest
from PIL import Image

from gancli.viz.grid import display_scale, save_gif, tile, upscale
from gancli.viz.labels import Cells, annotate, fitted, font, text_size
from tests.pictures import assert_rows_named, ink, ink_width, split, width_of


def _grid(rows: int, cols: int, side: int = 32, seed: int = 0) -> tuple[np.ndarray, Cells]:
    images = np.random.default_rng(seed).integers(0, 256, (rows * cols, side, side, 3), dtype=np.uint8)
    return tile(images, cols), Cells(rows, cols, side, side, 2)


def test_annotate_keeps_every_grid_pixel_and_puts_each_name_beside_its_row():
    grid, cells = _grid(3, 4)
    names = ["ring", "circle pair", "t = 0.25"]
    picture = annotate(grid, cells, rows=names, columns=["a", "b", "G_AB(G_BA(b))", "d"], title="class ring")
    inside, margin, top = split(picture, *grid.shape[:2])
    np.testing.assert_array_equal(inside, grid)  # the tiles are untouched
    assert_rows_named(margin, names, pitch=34, pad=2)
    assert ink_width(top[:16]) == pytest.approx(width_of("class ring"), abs=1)  # the title line
    assert ink(top[16:]).any()  # the column names below it
    assert margin.shape[1] == max(text_size(n, font())[0] for n in names) + 8  # 4 px either side


def test_the_same_names_in_another_order_move_with_their_rows():
    grid, cells = _grid(2, 2)
    a = split(annotate(grid, cells, rows=["triangle pair", "plus"]), *grid.shape[:2])[1]
    b = split(annotate(grid, cells, rows=["plus", "triangle pair"]), *grid.shape[:2])[1]
    assert_rows_named(a, ["triangle pair", "plus"], 34, 2)
    assert_rows_named(b, ["plus", "triangle pair"], 34, 2)
    assert not np.array_equal(a, b)


def test_nothing_to_say_returns_the_grid_itself():
    grid, cells = _grid(2, 2)
    assert annotate(grid, cells) is grid
    assert annotate(grid, cells, rows=[], columns=[], title="") is grid


def test_column_names_shrink_to_their_column_and_never_overlap():
    grid, cells = _grid(1, 3, side=40)
    names = ["a", "G_BA(G_AB(a))", "a name far too long for a 40 px column"]
    picture = annotate(grid, cells, columns=names)
    _, _, top = split(picture, *grid.shape[:2])
    for c in range(3):  # each name's ink stays over its own column (its pad included)
        x0, x1 = cells.pad // 2 + c * (cells.width + cells.pad), (c + 1) * (cells.width + cells.pad) + cells.pad // 2
        columns_with_ink = ink(top).any(axis=0)
        assert columns_with_ink[x0:x1].any()
        if c == 0:
            assert not columns_with_ink[x1:x1 + 2].any()
    text, face = fitted(names[2], 42)
    assert text.endswith("…") and text_size(text, face)[0] <= 42


@pytest.mark.parametrize("res, scale", [(16, 4), (28, 3), (32, 2), (48, 2), (64, 1), (128, 1)])
def test_display_scale_brings_tiles_to_64_px(res, scale):
    assert display_scale(res) == scale and res * scale >= 64 and (scale == 1 or res * (scale - 1) < 64)


def test_upscale_is_nearest_neighbour_by_a_whole_factor():
    grid, _ = _grid(2, 3, side=8)
    for k in (1, 2, 3):
        expected = np.asarray(Image.fromarray(grid).resize((grid.shape[1] * k, grid.shape[0] * k), Image.NEAREST))
        np.testing.assert_array_equal(upscale(grid, k), expected)
    assert set(np.unique(upscale(grid, 3))) <= set(np.unique(grid))  # no value made up


def test_gif_titles_sit_above_each_frame(tmp_path):
    palette = np.array([[0, 0, 0], [255, 255, 255], [200, 30, 30], [30, 200, 30]], np.uint8)  # GIF-exact colours
    rng = np.random.default_rng(1)
    frames = [palette[rng.integers(0, 4, (40, 60))] for _ in range(3)]
    path = save_gif(frames, tmp_path / "a.gif", titles=["step 320", "step 640", "step 1600"])
    gif = Image.open(path)
    widths = []
    for k in range(3):
        gif.seek(k)
        picture = np.asarray(gif.convert("RGB"))
        inside, _, top = split(picture, 40, 60)
        np.testing.assert_array_equal(inside, frames[k])
        widths.append(ink_width(top))
    assert widths[2] > widths[0] > 0  # "step 1600" is wider than "step 320"
    with pytest.raises(ValueError):  # one title per frame
        save_gif(frames, tmp_path / "b.gif", titles=["step 1"])


def test_gif_frames_keep_one_size_when_titles_are_wider_than_the_frames(tmp_path):
    frames = [np.full((20, 20, 3), 255 * (k % 2), np.uint8) for k in range(3)]
    gif = Image.open(save_gif(frames, tmp_path / "narrow.gif", titles=["step 1 of 12", "step 2 of 12", "step 12 of 12"]))
    sizes = set()
    for k in range(3):
        gif.seek(k)
        picture = np.asarray(gif.convert("RGB"))
        sizes.add(picture.shape)
        np.testing.assert_array_equal(split(picture, 20, 20)[0], frames[k])
    assert len(sizes) == 1 and sizes.pop()[1] > 20
