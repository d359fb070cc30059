"""``cifar10``, ``mnist``, ``fashion-mnist`` read from fake files in the real formats."""
from __future__ import annotations

import pytest
import torch
import torchvision.datasets

import gancli.data.base as data_base
from gancli.data import build_dataset
from gancli.errors import GancliError

from .fake_datasets import CIFAR_CLASSES, write_fake_mnist


@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar10_pixels_and_labels_round_trip_exactly(fake_cifar_root, split):
    root, fake = fake_cifar_root
    dataset = build_dataset("cifar10", root=str(root), cond=True, split=split)
    expected_images = fake.train_images if split == "train" else fake.test_images
    expected_labels = fake.train_labels if split == "train" else fake.test_labels
    assert dataset.channels == 3 and dataset.resolution == 32
    assert torch.equal(dataset.images, torch.from_numpy(expected_images))
    assert torch.equal(dataset.labels, torch.from_numpy(expected_labels))
    assert dataset.class_names == CIFAR_CLASSES and dataset.n_classes == 10
    image, label = dataset[2]
    torch.testing.assert_close(image, torch.from_numpy(expected_images[2]).float() / 127.5 - 1, rtol=0, atol=1e-6)
    assert label == int(expected_labels[2])


def test_cifar10_resizes_to_the_requested_resolution(fake_cifar_root):
    root, fake = fake_cifar_root
    dataset = build_dataset("cifar10", root=str(root), res=16)
    assert dataset.images.shape == (20, 3, 16, 16) and dataset.label_kind == "none"
    # An antialiased 2x reduction keeps each image's mean brightness.
    means = dataset.images.float().mean(dim=(1, 2, 3))
    torch.testing.assert_close(means, torch.from_numpy(fake.train_images).float().mean(dim=(1, 2, 3)), rtol=0, atol=1.0)


def test_cifar10_too_big_for_memory_is_resized_per_batch_to_the_same_values(fake_cifar_root, monkeypatch):
    root, _ = fake_cifar_root
    in_memory = build_dataset("cifar10", root=str(root), res=64, cond=True)
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    lazy = build_dataset("cifar10", root=str(root), res=64, cond=True)
    assert lazy.images is None
    indices = torch.tensor([3, 19, 0])
    lazy_images, lazy_labels = lazy.get_batch(indices)
    torch.testing.assert_close(lazy_images, in_memory.get_batch(indices)[0], rtol=0, atol=0)
    assert torch.equal(lazy_labels, in_memory.labels[indices])
    assert torch.equal(lazy[19][0], in_memory[19][0])


def test_cifar10_missing_names_the_expected_files(tmp_path):
    with pytest.raises(GancliError) as error:
        build_dataset("cifar10", root=str(tmp_path))
    message = str(error.value)
    assert f"expected {tmp_path}/cifar-10-batches-py/" in message
    assert "data_batch_1..5, test_batch and batches.meta" in message
    assert "--download" in message and "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message


def test_cifar10_partly_missing_lists_what_is_missing(fake_cifar_root):
    root, _ = fake_cifar_root
    (root / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(GancliError, match=r"\(missing: test_batch\)"):
        build_dataset("cifar10", root=str(root))


def test_cifar10_damaged_batch_is_reported(fake_cifar_root):
    root, _ = fake_cifar_root
    (root / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02 truncated")
    with pytest.raises(GancliError, match="could not read cifar10 .*pass --download"):
        build_dataset("cifar10", root=str(root))


def test_failed_download_becomes_one_error_line_with_the_manual_route(tmp_path, monkeypatch):
    def offline(self):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", offline)
    with pytest.raises(GancliError, match="could not download cifar10 .*network is unreachable.*cifar-10-python.tar.gz"):
        build_dataset("cifar10", root=str(tmp_path), download=True)


def test_mnist_keeps_one_channel_and_its_labels(fake_mnist_root):
    root, fake = fake_mnist_root
    dataset = build_dataset("mnist", root=str(root), cond=True, res=32)
    assert dataset.channels == 1 and dataset.images.shape == (12, 1, 32, 32)
    assert torch.equal(dataset.labels, torch.from_numpy(fake.train_labels))
    assert dataset.class_names[0] == "0 - zero" and dataset.n_classes == 10
    # 28 -> 32: the white left half and the grey right half survive the resize, away from the edge.
    greys = torch.from_numpy(fake.train_images[:, 0, 0, -1])
    assert (dataset.images[:, 0, :, :13] == 255).all()
    assert torch.equal(dataset.images[:, 0, :, 20:], greys[:, None, None].expand(12, 32, 12))


def test_mnist_test_split_reads_t10k_files(fake_mnist_root):
    root, fake = fake_mnist_root
    dataset = build_dataset("mnist", root=str(root), cond=True, split="test", res=16)
    assert len(dataset) == 5 and torch.equal(dataset.labels, torch.from_numpy(fake.test_labels))
    assert dataset[0][0].shape == (1, 16, 16)


def test_fashion_mnist_reads_its_own_folder_and_class_names(tmp_path):
    fake = write_fake_mnist(tmp_path, folder_name="FashionMNIST", n_train=7)
    dataset = build_dataset("fashion-mnist", root=str(tmp_path), cond=True)
    assert len(dataset) == 7 and torch.equal(dataset.labels, torch.from_numpy(fake.train_labels))
    assert dataset.class_names[0] == "T-shirt/top" and dataset.class_names[-1] == "Ankle boot"


def test_mnist_missing_names_the_raw_files(tmp_path):
    with pytest.raises(GancliError) as error:
        build_dataset("mnist", root=str(tmp_path))
    message = str(error.value)
    assert f"expected {tmp_path}/MNIST/raw/ with train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert "t10k-images-idx3-ubyte" in message and "--download" in message
    assert "train-images-idx3-ubyte.gz," in message  # the manual route names the archives once


def test_unknown_split_lists_the_valid_ones(fake_cifar_root):
    root, _ = fake_cifar_root
    with pytest.raises(GancliError, match="cifar10 has no split 'valid'; choose one of: train, test"):
        build_dataset("cifar10", root=str(root), split="valid")
