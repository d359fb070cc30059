"""28 x 28, MNIST's own size: every dataset builds at it; (Fashion-)MNIST keep their pixels."""
import numpy as np
import pytest
import torch

from gancli.data import VALID_RESOLUTIONS, build_dataset
from gancli.data.base import check_resolution
from gancli.data.shapes import render_shapes, sample_params
from gancli.errors import GancliError

from .fake_datasets import write_fake_mnist


def test_28_is_a_valid_resolution_and_neighbours_are_not():
    assert 28 in VALID_RESOLUTIONS and check_resolution(28) == 28
    for res in (27, 29, 48):
        with pytest.raises(GancliError, match=f"resolution {res} is not supported; choose one of: 16, 28, 32"):
            check_resolution(res)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_like_data_at_28_is_not_resized(tmp_path, name, folder):
    fake = write_fake_mnist(tmp_path, folder_name=folder, n_train=9)
    dataset = build_dataset(name, root=str(tmp_path), cond=True, res=28)
    assert dataset.resolution == 28 and dataset.channels == 1
    assert torch.equal(dataset.images, torch.from_numpy(fake.train_images))  # bit-identical: no resampling
    assert torch.equal(dataset.labels, torch.from_numpy(fake.train_labels))
    images, _ = dataset.get_batch([0, 4])
    assert images.shape == (2, 1, 28, 28)
    torch.testing.assert_close(images, torch.from_numpy(fake.train_images[[0, 4]]).float() / 127.5 - 1,
                               rtol=0, atol=1e-6)


def test_shapes_render_at_28_like_at_32():
    params = sample_params(64, seed=3)
    at_28, at_32 = render_shapes(params, 28), render_shapes(params, 32)
    assert at_28.shape == (64, 3, 28, 28)
    # the same shapes: each covers the same area of its image. alpha = (pixel - bg) / (fg - bg) on the
    # channel where shape and background differ most; its mean is the area, edges antialiased
    rows = np.arange(64)
    channel = np.abs(params.foreground - params.background).argmax(axis=1)
    bg = params.background[rows, channel] * 255
    fg = params.foreground[rows, channel] * 255

    def area(images):
        pixels = images[rows, channel].astype(np.float64)
        return ((pixels - bg[:, None, None]) / (fg - bg)[:, None, None]).mean(axis=(1, 2))

    np.testing.assert_allclose(area(at_28), area(at_32), atol=0.01)
    dataset = build_dataset("shapes", res=28, cond=True, size=16)
    assert dataset.images.shape == (16, 3, 28, 28) and dataset.n_classes == 8


def test_folder_and_cifar_resize_to_28(fake_folder, fake_cifar_root):
    folder = build_dataset("folder", root=str(fake_folder.root), cond=True, res=28)
    assert folder.images.shape[1:] == (3, 28, 28)
    cifar = build_dataset("cifar10", root=str(fake_cifar_root[0]), res=28)
    assert cifar.images.shape[1:] == (3, 28, 28)
