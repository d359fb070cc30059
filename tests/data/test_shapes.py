"""The built-in ``shapes`` dataset: determinism, balance, ranges, resolutions, and that each
class is recognisable from structure alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import gancli.data.base as data_base
from gancli.data import SHAPE_CLASSES, VALID_RESOLUTIONS, build_dataset
from gancli.data.shapes import MAX_BACKGROUND, MAX_RADIUS, MIN_RADIUS
from gancli.errors import GancliError


def test_same_seed_gives_bit_identical_images_and_labels():
    first = build_dataset("shapes", cond=True, seed=5, size=256)
    second = build_dataset("shapes", cond=True, seed=5, size=256)
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.labels, second.labels)


def test_different_seeds_give_different_images():
    first = build_dataset("shapes", seed=0, size=64).images
    second = build_dataset("shapes", seed=1, size=64).images
    differing_pixels = (first != second).any(dim=1).float().mean()
    assert differing_pixels > 0.5


def test_test_split_is_a_different_stream_of_the_same_seed():
    train = build_dataset("shapes", seed=0, size=64).images
    test = build_dataset("shapes", seed=0, size=64, split="test").images
    assert (train != test).any(dim=1).float().mean() > 0.5


def test_lazy_rendering_matches_the_in_memory_tensor(monkeypatch):
    in_memory = build_dataset("shapes", res=64, cond=True, seed=3, size=40)
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    lazy = build_dataset("shapes", res=64, cond=True, seed=3, size=40)
    assert lazy.images is None
    indices = torch.tensor([39, 0, 17, 17, 5])
    lazy_images, lazy_labels = lazy.get_batch(indices)
    memory_images, memory_labels = in_memory.get_batch(indices)
    assert torch.equal(lazy_images, memory_images)
    assert torch.equal(lazy_labels, memory_labels)
    assert torch.equal(lazy[7][0], in_memory[7][0])


def test_default_size_is_20000_and_classes_are_balanced():
    dataset = build_dataset("shapes", res=16, cond=True)
    assert len(dataset) == 20_000
    assert dataset.class_names == list(SHAPE_CLASSES)
    assert dataset.n_classes == 8
    assert dataset.label_frequencies().tolist() == [0.125] * 8


def test_uneven_size_keeps_classes_within_one_image():
    counts = torch.bincount(build_dataset("shapes", cond=True, size=803).labels, minlength=8)
    assert counts.sum() == 803
    assert set(counts.tolist()) == {100, 101}


def test_getitem_is_float_in_minus_one_one_and_matches_the_uint8_images():
    dataset = build_dataset("shapes", cond=True, size=32)
    image, label = dataset[3]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    assert image.min() >= -1.0 and image.max() <= 1.0
    torch.testing.assert_close(image, dataset.images[3].float() / 127.5 - 1, rtol=0, atol=1e-6)
    assert label.dtype == torch.int64 and label.ndim == 0 and label == dataset.labels[3]


@pytest.mark.parametrize("res", VALID_RESOLUTIONS)
def test_every_resolution_gives_that_shape(res):
    dataset = build_dataset("shapes", res=res, size=8)
    assert dataset.resolution == res and dataset.channels == 3
    assert dataset.images.shape == (8, 3, res, res) and dataset.images.dtype == torch.uint8
    assert dataset[0][0].shape == (3, res, res)


@pytest.mark.parametrize("res", [8, 24, 48, 512, 32.0])
def test_invalid_resolution_names_the_valid_ones(res):
    with pytest.raises(GancliError, match="choose one of: 16, 28, 32, 64, 128, 256"):
        build_dataset("shapes", res=res)


def test_without_cond_the_labels_are_dropped():
    dataset = build_dataset("shapes", size=16)
    assert dataset.label_kind == "none" and dataset.n_classes == 0 and dataset.class_names == []
    assert torch.equal(dataset.labels, torch.zeros(16, dtype=torch.int64))


# --- structure: a hand-written classifier must recover every class from the pixels alone ---

def foreground_masks(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 3, R, R) -> bool (N, R, R): pixels at least half-way from the background colour
    (read at the top-left corner) towards the shape colour (the pixel farthest from it)."""
    pixels = images.astype(np.float64).transpose(0, 2, 3, 1)  # (N, R, R, 3)
    offset = pixels - pixels[:, :1, :1]
    distance = (offset**2).sum(-1).reshape(len(images), -1)
    direction = offset.reshape(len(images), -1, 3)[np.arange(len(images)), distance.argmax(1)]
    alpha = (offset * direction[:, None, None]).sum(-1) / (direction**2).sum(-1)[:, None, None]
    return alpha > 0.5


def label_components(mask: np.ndarray, diagonal: bool) -> np.ndarray:
    """Connected components of bool (N, H, W) by min-label propagation -> int64 (N, H, W):
    0 off the mask, else an id shared by the pixels of one component (unique across images)."""
    n, h, w = mask.shape
    outside = n * h * w + 1
    labels = np.where(mask, np.arange(1, n * h * w + 1).reshape(n, h, w), outside)
    while True:
        padded = np.pad(labels, ((0, 0), (1, 1), (1, 1)), constant_values=outside)
        shifts = [(1, 1), (0, 1), (2, 1), (1, 0), (1, 2)]
        if diagonal:
            shifts += [(0, 0), (0, 2), (2, 0), (2, 2)]
        neighbours = np.minimum.reduce([padded[:, dy : dy + h, dx : dx + w] for dy, dx in shifts])
        updated = np.where(mask, neighbours, outside)
        if np.array_equal(updated, labels):
            return np.where(mask, labels, 0)
        labels = updated


def count_per_image(ids: np.ndarray, pixels_per_image: int, n: int) -> np.ndarray:
    return np.bincount((ids - 1) // pixels_per_image, minlength=n)


def classify(images: np.ndarray) -> list[str]:
    """Shape name per image from: number of blobs, holes, how much of its bounding box the
    shape fills, and how symmetric it is top-to-bottom."""
    masks = foreground_masks(images)
    n, h, w = masks.shape
    blobs = np.unique(label_components(masks, diagonal=False))
    blob_count = count_per_image(blobs[blobs > 0], h * w, n)
    background = label_components(~masks, diagonal=True)
    border = np.concatenate([background[:, 0], background[:, -1], background[:, :, 0], background[:, :, -1]], axis=1)
    holes = np.setdiff1d(np.unique(background[background > 0]), border)
    hole_count = count_per_image(holes, h * w, n)
    names = []
    for mask, n_blobs, n_holes in zip(masks, blob_count, hole_count):
        rows, cols = np.nonzero(mask)
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        fill = box.mean()
        vertical_symmetry = (box & box[::-1]).sum() / (box | box[::-1]).sum()
        if n_blobs == 3:
            names.append("stripes")
        elif n_blobs == 2:
            names.append("circle-pair" if fill > 0.5 else "triangle-pair")
        elif n_holes == 1:
            names.append("ring")
        elif fill > 0.88:
            names.append("square")
        elif fill > 0.65:
            names.append("circle")
        else:
            names.append("plus" if vertical_symmetry > 0.8 else "triangle")
    return names


@pytest.mark.parametrize("res, size", [(32, 400), (64, 80)])
def test_every_class_is_recognisable_from_structure(res, size):
    dataset = build_dataset("shapes", res=res, cond=True, seed=11, size=size)
    predicted = np.array(classify(dataset.images.numpy()))
    truth = np.array(dataset.class_names)[dataset.labels.numpy()]
    for name in SHAPE_CLASSES:
        assert (predicted[truth == name] == name).mean() >= 0.9, name
    assert (predicted == truth).mean() >= 0.97


def test_shapes_stay_inside_the_frame_on_a_plain_background():
    images = build_dataset("shapes", size=200).images.numpy().astype(int)
    corner = images[:, :, :1, :1]
    border = np.concatenate([images[:, :, 0, :], images[:, :, -1, :], images[:, :, :, 0], images[:, :, :, -1]], axis=2)
    assert np.abs(border - corner[:, :, 0]).max() == 0


def test_shape_colour_contrasts_with_the_background():
    images = build_dataset("shapes", size=200).images.numpy().astype(np.float64)
    luma = np.tensordot(images, [0.299, 0.587, 0.114], axes=([1], [0]))  # (N, R, R)
    contrast = np.abs(luma - luma[:, :1, :1]).reshape(len(images), -1).max(1)
    assert contrast.min() >= 0.3 * 255 - 1.0


def test_backgrounds_are_dark_colours_and_shapes_span_the_radius_range():
    dataset = build_dataset("shapes", cond=True, size=400)
    images = dataset.images.numpy().astype(np.float64)
    corner = images[:, :, 0, 0] / 255  # (N, 3) background colours
    assert corner.max() <= MAX_BACKGROUND + 1 / 255
    assert corner.std(0).min() > 0.08  # random, not one colour: uniform on [0, 0.35] has std 0.10
    # circles: the diameter in pixels is 2 r R, with r uniform in [MIN_RADIUS, MAX_RADIUS]
    circles = images[dataset.labels.numpy() == 0]
    masks = (np.abs(circles - circles[:, :, :1, :1]) > 0.5 * 255 * 0.3).any(1)  # more than half-way in
    widths = masks.any(1).sum(1) / 32
    assert 2 * MIN_RADIUS - 0.07 <= widths.min() and widths.max() <= 2 * MAX_RADIUS + 0.07
    assert widths.max() - widths.min() > 0.8 * 2 * (MAX_RADIUS - MIN_RADIUS)
