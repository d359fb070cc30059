"""The contract every dataset keeps: registry, options, get_batch == __getitem__, frequencies,
describe, and the shared resize helper."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import gancli.data.base as data_base
from gancli.data import DATASETS, GanDataset, build_dataset
from gancli.data.base import resize_uint8
from gancli.errors import GancliError


def test_registry_lists_every_dataset_with_shapes_first():
    assert DATASETS.names() == ["shapes", "folder", "cifar10", "mnist", "fashion-mnist", "celeba"]


def test_unknown_dataset_suggests_the_names():
    with pytest.raises(GancliError, match="unknown dataset 'shape'; choose one of: shapes, folder, cifar10"):
        build_dataset("shape")


def test_resolution_is_checked_before_any_file_is_looked_for(tmp_path):
    with pytest.raises(GancliError, match="resolution 48 is not supported"):
        build_dataset("cifar10", root=str(tmp_path), res=48)


@pytest.mark.parametrize("name", ["shapes", "cifar10", "mnist"])
def test_attrs_is_refused_by_datasets_without_attributes(name, tmp_path):
    with pytest.raises(GancliError, match=f"--attrs needs an attribute-labelled dataset \\(celeba\\), but {name} has none"):
        build_dataset(name, root=str(tmp_path), cond=True, attrs=["Male"])


def test_resolution_accepts_integer_like_values():
    assert build_dataset("shapes", res=np.int64(16), size=4).resolution == 16


def test_size_must_be_positive():
    with pytest.raises(GancliError, match="--size must be at least 1"):
        build_dataset("shapes", size=0)


def _built(kind: str, request, monkeypatch) -> GanDataset:
    """One dataset of each storage kind: in memory, lazily decoded files, lazily resized arrays."""
    if kind == "shapes":
        return build_dataset("shapes", cond=True, size=24)
    if kind == "folder-lazy":
        monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
        return build_dataset("folder", root=str(request.getfixturevalue("fake_folder").root), cond=True, res=16)
    if kind == "cifar10-lazy":
        monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
        return build_dataset("cifar10", root=str(request.getfixturevalue("fake_cifar_root")[0]), cond=True, res=16)
    if kind == "mnist":
        return build_dataset("mnist", root=str(request.getfixturevalue("fake_mnist_root")[0]), cond=True)
    root = request.getfixturevalue("fake_celeba_root")[0]
    return build_dataset("celeba", root=str(root), cond=True, attrs=["Male", "Young"], split="all", res=16)


@pytest.mark.parametrize("kind", ["shapes", "folder-lazy", "cifar10-lazy", "mnist", "celeba"])
def test_get_batch_equals_stacked_getitem(kind, request, monkeypatch):
    dataset = _built(kind, request, monkeypatch)
    indices = torch.tensor([len(dataset) - 1, 0, 2, 2])
    images, labels = dataset.get_batch(indices)
    items = [dataset[int(i)] for i in indices]
    assert torch.equal(images, torch.stack([image for image, _ in items]))
    assert torch.equal(labels, torch.stack([label for _, label in items]))
    assert images.dtype == torch.float32
    assert images.shape == (4, dataset.channels, dataset.resolution, dataset.resolution)
    assert images.min() >= -1 and images.max() <= 1


def test_negative_index_and_index_past_the_end():
    dataset = build_dataset("shapes", size=10)
    assert torch.equal(dataset[-1][0], dataset[9][0])
    with pytest.raises(IndexError):
        dataset[10]


def test_class_frequencies_sum_to_one_and_match_the_counts(fake_folder):
    dataset = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16, size=7, seed=2)
    counts = torch.bincount(dataset.labels, minlength=dataset.n_classes).float()
    torch.testing.assert_close(dataset.label_frequencies(), counts / 7)
    assert dataset.label_frequencies().sum().item() == pytest.approx(1.0)


def test_unlabelled_frequencies_are_empty():
    assert build_dataset("shapes", size=8).label_frequencies().shape == (0,)


def test_describe_is_one_informative_line(fake_folder):
    line = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16).describe()
    assert line == ("folder: 12 images, 16x16 RGB, 3 classes (cat, dog, owl), in memory, "
                    "2 files skipped (1 not an image: owl/notes.txt; 1 unreadable: owl/broken.png)")
    shapes = build_dataset("shapes", cond=True, size=16).describe()
    assert shapes.startswith("shapes: 16 images, 32x32 RGB, 8 classes (circle, square, triangle, ring, plus,")


def test_resize_keeps_constants_and_edges():
    image = torch.zeros((1, 3, 32, 32), dtype=torch.uint8)
    image[..., :16] = 200  # left half bright
    small = resize_uint8(image, 16)
    assert small.shape == (1, 3, 16, 16) and small.dtype == torch.uint8
    assert (small[..., :6] == 200).all() and (small[..., 10:] == 0).all()
    assert resize_uint8(image, 32) is image  # same size: untouched, values round-trip exactly


def test_gan_dataset_rejects_mismatched_tensors():
    labels = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="images must be uint8"):
        GanDataset(name="x", resolution=16, channels=3, label_kind="none", labels=labels,
                   images=torch.zeros((4, 3, 32, 32), dtype=torch.uint8))
    with pytest.raises(ValueError, match="attrs labels must be float32"):
        GanDataset(name="x", resolution=16, channels=3, label_kind="attrs", labels=labels, attr_names=["Male"])
