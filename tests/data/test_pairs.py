"""Two-domain datasets: the CycleGAN folder layout (``pair``) and the built-in ``shapes-pair``."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gancli.data.base as data_base
from gancli.data import PAIR_DATASETS, TwoDomainDataset, build_pair_dataset
from gancli.data.shapes_pair import STROKE
from gancli.errors import GancliError

COLOURS = {"trainA": (200, 30, 30), "trainB": (30, 160, 40), "testA": (40, 60, 220), "testB": (230, 200, 20)}


def write_cyclegan_dir(root: Path, counts: dict[str, int]) -> Path:
    """``root/<folder>/img<i>.png`` solid images of COLOURS[folder] (some 40x24, which the centre
    crop makes square); a count of 0 makes an empty folder, a missing key no folder."""
    for folder, count in counts.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (40 if i % 2 else 24, 24), COLOURS[folder]).save(root / folder / f"img{i}.png")
    return root


@pytest.fixture
def cyclegan_dir(tmp_path) -> Path:
    return write_cyclegan_dir(tmp_path / "horse2zebra", {"trainA": 3, "trainB": 5, "testA": 2, "testB": 4})


def one_line_error(match: str, **kwargs) -> str:
    with pytest.raises(GancliError, match=match) as error:
        build_pair_dataset(**kwargs)
    assert "\n" not in str(error.value)
    return str(error.value)


# --- pair: the CycleGAN folder layout ---------------------------------------------------------

def test_registry_lists_both_and_refuses_typos():
    assert PAIR_DATASETS.names() == ["pair", "shapes-pair"]
    one_line_error(r"unknown two-domain dataset 'shape-pair'; choose one of: pair, shapes-pair", name="shape-pair")


@pytest.mark.parametrize("split, sizes", [("train", (3, 5)), ("test", (2, 4))])
def test_domains_of_different_sizes_both_load(cyclegan_dir, split, sizes):
    pair = build_pair_dataset("pair", root=str(cyclegan_dir), res=16, split=split)
    assert isinstance(pair, TwoDomainDataset) and (pair.resolution, pair.channels) == (16, 3)
    assert (len(pair.a), len(pair.b)) == sizes
    assert pair.a.label_kind == pair.b.label_kind == "none"
    for dataset, folder in ((pair.a, f"{split}A"), (pair.b, f"{split}B")):
        expected = torch.tensor(COLOURS[folder], dtype=torch.uint8)[None, :, None, None]
        assert torch.equal(dataset.images, expected.expand_as(dataset.images)), folder
        images, _ = dataset.get_batch(torch.arange(len(dataset)))
        assert images.shape == (len(dataset), 3, 16, 16) and images.dtype == torch.float32
    line = pair.describe()
    assert f"({split}, unpaired)" in line and f"pair/{split}A: {sizes[0]} images" in line and f"pair/{split}B: {sizes[1]} images" in line


def test_size_subsets_each_domain_and_junk_is_reported(cyclegan_dir):
    (cyclegan_dir / "trainB" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png" * 4)
    (cyclegan_dir / "trainB" / "notes.txt").write_text("zebras\n")
    pair = build_pair_dataset("pair", root=str(cyclegan_dir), res=16)
    assert len(pair.b) == 5 and pair.b.skipped == 2 and "2 files skipped" in pair.describe()
    small = build_pair_dataset("pair", root=str(cyclegan_dir), res=16, size=2)
    assert (len(small.a), len(small.b)) == (2, 2)


def test_missing_directory_is_one_line(tmp_path):
    one_line_error(r"pair directory .*nowhere does not exist", name="pair", root=str(tmp_path / "nowhere"))
    one_line_error(r"the pair dataset needs a directory", name="pair")


def test_missing_test_b_only_matters_for_the_test_split(tmp_path):
    root = write_cyclegan_dir(tmp_path / "d", {"trainA": 2, "trainB": 2, "testA": 1})
    message = one_line_error(r"has no testB/ \(the test split reads testA/ and testB/", name="pair", root=str(root), split="test")
    assert "testA" not in message.split("has no")[1].split("(")[0]
    assert len(build_pair_dataset("pair", root=str(root), res=16).a) == 2


def test_missing_train_folders_are_named(tmp_path):
    root = write_cyclegan_dir(tmp_path / "d", {"testA": 1, "testB": 1})
    one_line_error(r"has no trainA/ or trainB/", name="pair", root=str(root))


def test_empty_train_a_says_so(tmp_path):
    root = write_cyclegan_dir(tmp_path / "d", {"trainA": 0, "trainB": 2})
    (root / "trainA" / "readme.txt").write_text("no pictures here\n")
    one_line_error(r"trainA holds no images \(looked for \.png", name="pair", root=str(root))


def test_unsupported_resolution_and_options(cyclegan_dir):
    one_line_error(r"resolution 48 is not supported; choose one of: 16, 28, 32", name="pair", root=str(cyclegan_dir), res=48)
    one_line_error(r"pair has no split 'valid'", name="pair", root=str(cyclegan_dir), split="valid")
    one_line_error(r"--narrow-b only applies to the built-in shapes-pair", name="pair", root=str(cyclegan_dir), narrow_b=True)
    pair = build_pair_dataset("pair", root=str(cyclegan_dir), res=16)
    assert not pair.has_ground_truth
    with pytest.raises(GancliError, match="pair has no ground truth"):
        pair.ground_truth("test")


# --- shapes-pair: the built-in data ------------------------------------------------------------

def alpha_of(image: torch.Tensor) -> np.ndarray:
    """Recover a rendering's coverage (R, R) in [0, 1] from uint8 (3, R, R): the background is the
    corner pixel (shapes keep a margin), the ink the pixel farthest from it; read on the channel
    where the two differ most."""
    pixels = image.to(torch.float64).numpy()
    background = pixels[:, 0, 0]
    distance = np.abs(pixels - background[:, None, None]).sum(axis=0)
    row, col = np.unravel_index(distance.argmax(), distance.shape)
    ink = pixels[:, row, col]
    channel = int(np.abs(ink - background).argmax())
    return (pixels[channel] - background[channel]) / (ink[channel] - background[channel])


def erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion by a 3x3 square, ``steps`` times (outside the image counts as outside)."""
    for _ in range(steps):
        padded = np.pad(mask, 1, constant_values=False)
        rows, cols = mask.shape
        mask = np.logical_and.reduce([padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
                                      for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return mask


@pytest.mark.parametrize("res", [32, 64])
def test_shapes_and_value_range(res):
    pair = build_pair_dataset("shapes-pair", res=res, size=24)
    for dataset in (pair.a, pair.b):
        images, labels = dataset.get_batch(torch.arange(24))
        assert images.shape == (24, 3, res, res) and images.dtype == torch.float32
        assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.3 and images.max() > 0.3
        assert dataset.label_kind == "none" and torch.equal(labels, torch.zeros(24, dtype=torch.int64))
    assert pair.a_classes.shape == pair.b_classes.shape == (24,) and pair.class_names[0] == "circle"
    a, b, classes = pair.ground_truth("test", n=10)
    assert a.shape == b.shape == (10, 3, res, res) and classes.shape == (10,)
    assert a.min() >= -1 and b.max() <= 1


def test_deterministic_by_seed():
    first, again = (build_pair_dataset("shapes-pair", res=32, size=16, seed=3) for _ in range(2))
    other = build_pair_dataset("shapes-pair", res=32, size=16, seed=4)
    for domain in ("a", "b"):
        images = getattr(first, domain).images
        assert images.numpy().tobytes() == getattr(again, domain).images.numpy().tobytes()
        assert not torch.equal(images, getattr(other, domain).images)
    assert all(torch.equal(x, y) for x, y in zip(first.ground_truth("test"), again.ground_truth("test")))


def test_training_domains_are_unpaired():
    pair = build_pair_dataset("shapes-pair", res=32, size=64)
    truth_a, truth_b, truth_classes = pair.ground_truth("train")
    assert torch.equal(truth_a, data_base.to_float(pair.a.images)) and torch.equal(truth_classes, pair.a_classes)
    # B's scene i is another scene than A's: another class most of the time, another image always.
    assert (pair.a_classes != pair.b_classes).float().mean() > 0.6
    b_images = data_base.to_float(pair.b.images)
    assert ((b_images - truth_b).abs().flatten(1).amax(dim=1) > 0.5).all()
    assert not torch.equal(pair.a.images, build_pair_dataset("shapes-pair", res=32, size=64, split="test").a.images)


@pytest.mark.parametrize("res", [32, 64])
def test_ground_truth_outline_lies_on_the_boundary_of_the_filled_shape(res):
    a, b, classes = build_pair_dataset("shapes-pair", res=res, size=16, split="test").ground_truth("test")
    assert sorted(set(classes.tolist())) == list(range(8))
    depth = math.ceil(STROKE * res) + 2
    filled_total = stroke_total = 0
    for index in range(16):
        filled_alpha = alpha_of(((a[index] + 1) * 127.5).round().to(torch.uint8))
        filled = filled_alpha > 0.5
        stroke = alpha_of(((b[index] + 1) * 127.5).round().to(torch.uint8)) > 0.5
        edge = filled & ~erode(filled, 1)
        filled_total, stroke_total = filled_total + filled.sum(), stroke_total + stroke.sum()
        # the stroke is inside A's shape (a half-covered edge pixel may round to either side of 0.5) ...
        assert not (stroke & ~(filled_alpha > 0.45)).any(), index
        assert not (edge & ~stroke).any(), index             # ... covers its whole edge ...
        assert not (stroke & erode(filled, depth)).any(), index  # ... and goes no deeper
    assert 0.2 * filled_total < stroke_total < 0.8 * filled_total  # (thin stripes are all stroke)


def test_ground_truth_size_and_split():
    pair = build_pair_dataset("shapes-pair", res=32, size=20)
    a, _, classes = pair.ground_truth("test", n=5)
    assert a.shape[0] == 5 and classes.shape == (5,)
    with pytest.raises(GancliError, match="shapes-pair has no split 'valid'"):
        pair.ground_truth("valid")


@pytest.mark.parametrize("res", [32, 64])
def test_narrow_b_gives_every_b_image_one_position_and_size(res):
    narrow = build_pair_dataset("shapes-pair", res=res, size=48, narrow_b=True)
    wide = build_pair_dataset("shapes-pair", res=res, size=48)
    assert "narrow" in narrow.describe()
    assert torch.equal(narrow.a.images, wide.a.images)  # only B changes

    def geometry(pair):
        """per image: (bounding-box centre x, y, coverage-weighted centroid x, y, area)."""
        rows = []
        for image in pair.b.images:
            alpha = alpha_of(image)
            ys, xs = np.nonzero(alpha > 0.5)
            yy, xx = np.mgrid[:res, :res]
            rows.append(((xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2,
                         (alpha * xx).sum() / alpha.sum(), (alpha * yy).sum() / alpha.sum(), alpha.sum()))
        return np.array(rows)

    narrow_geometry, wide_geometry = geometry(narrow), geometry(wide)
    centre = (res - 1) / 2
    assert np.abs(narrow_geometry[:, :2] - centre).max() <= 1  # every class's box is centred
    for class_id in range(8):
        same = narrow_geometry[(narrow.b_classes == class_id).numpy()]
        assert len(same) >= 2
        assert np.ptp(same[:, 2:4], axis=0).max() < 1  # one centroid per class, within a pixel
        assert same[:, 4] == pytest.approx(np.full(len(same), same[0, 4]), rel=0.01)  # one area
    assert np.ptp(wide_geometry[:, :2], axis=0).min() > res / 8  # without it, positions spread


def test_lazy_rendering_matches_in_memory(monkeypatch):
    in_memory = build_pair_dataset("shapes-pair", res=32, size=12, narrow_b=True)
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 4)
    lazy = build_pair_dataset("shapes-pair", res=32, size=12, narrow_b=True)
    assert lazy.a.images is None and lazy.b.images is None and "decoded per item" in lazy.describe()
    indices = torch.tensor([11, 0, 5])
    for domain in ("a", "b"):
        expected = getattr(in_memory, domain).images[indices]
        assert torch.equal(getattr(lazy, domain).get_uint8_batch(indices)[0], expected)
        assert torch.equal(getattr(lazy, domain)[5][0], data_base.to_float(expected[2]))
