"""``folder``: flat and class layouts, skipping junk, crop + resize values, errors."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

import gancli.data.base as data_base
from gancli.data import build_dataset
from gancli.errors import GancliError

from .fake_datasets import write_fake_folder


def test_class_sub_folders_give_sorted_classes_and_exact_colours(fake_folder):
    dataset = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16)
    assert dataset.label_kind == "class"
    assert dataset.class_names == ["cat", "dog", "owl"] and dataset.n_classes == 3
    assert len(dataset) == fake_folder.n_images == 12
    assert dataset.skipped == fake_folder.n_skippable == 2  # broken.png and notes.txt, not .DS_Store
    assert dataset.images.shape == (12, 3, 16, 16)
    assert torch.bincount(dataset.labels).tolist() == [4, 4, 4]
    # png, bmp, lossless webp and gif, square and 40x24 with white side bands: after the centre
    # square crop and the Lanczos resize every pixel is exactly the class colour.
    for class_index, name in enumerate(dataset.class_names):
        images = dataset.images[dataset.labels == class_index]
        expected = torch.tensor(fake_folder.colours[name], dtype=torch.uint8)[None, :, None, None]
        assert torch.equal(images, expected.expand_as(images)), name


def test_without_cond_a_class_folder_is_unlabelled(fake_folder):
    dataset = build_dataset("folder", root=str(fake_folder.root), res=16)
    assert dataset.label_kind == "none" and dataset.n_classes == 0 and dataset.class_names == []
    assert len(dataset) == 12 and torch.equal(dataset.labels, torch.zeros(12, dtype=torch.int64))


def test_flat_folder_is_unlabelled_and_skips_junk(fake_flat_folder):
    dataset = build_dataset("folder", root=str(fake_flat_folder.root), res=32)
    assert dataset.label_kind == "none" and len(dataset) == 4 and dataset.skipped == 2
    assert dataset.images.shape == (4, 3, 32, 32)
    assert "4 images" in dataset.describe() and "2 files skipped" in dataset.describe()


def test_cond_on_a_flat_folder_says_what_to_do(fake_flat_folder):
    with pytest.raises(GancliError, match=r"--cond needs labelled data, but folder .*flat has no class sub-folders"):
        build_dataset("folder", root=str(fake_flat_folder.root), cond=True)


def test_loose_top_level_files_next_to_class_folders_are_skipped(fake_folder):
    Image.new("RGB", (8, 8)).save(fake_folder.root / "stray.png")
    dataset = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16)
    assert len(dataset) == 12 and dataset.skipped == 3


def test_transparent_pixels_become_white(tmp_path):
    Image.new("RGBA", (20, 20), (10, 20, 30, 0)).save(tmp_path / "clear.png")
    Image.new("RGBA", (20, 20), (10, 20, 30, 255)).save(tmp_path / "opaque.png")
    dataset = build_dataset("folder", root=str(tmp_path), res=16)
    assert dataset.images[0].unique().tolist() == [255]  # clear.png sorts first
    assert dataset.images[1, :, 0, 0].tolist() == [10, 20, 30]


def test_empty_folder_errors(tmp_path):
    with pytest.raises(GancliError, match="holds no images"):
        build_dataset("folder", root=str(tmp_path))


def test_folder_with_only_text_files_errors(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(GancliError, match=r"holds no images .*1 other files ignored"):
        build_dataset("folder", root=str(tmp_path))


def test_folder_of_only_corrupt_images_errors(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (tmp_path / "b.png").write_bytes(b"")
    with pytest.raises(GancliError, match="no readable images .*all 2 image files failed to decode"):
        build_dataset("folder", root=str(tmp_path))


def test_missing_directory_and_missing_root_error(tmp_path):
    with pytest.raises(GancliError, match="does not exist"):
        build_dataset("folder", root=str(tmp_path / "nowhere"))
    with pytest.raises(GancliError, match="needs a directory of images: gancli train folder DIR"):
        build_dataset("folder")


def test_folder_rejects_attrs_and_test_split(fake_folder):
    with pytest.raises(GancliError, match="--attrs needs an attribute-labelled dataset"):
        build_dataset("folder", root=str(fake_folder.root), cond=True, attrs=["Male"])
    with pytest.raises(GancliError, match="folder has no split 'test'; choose one of: train, all"):
        build_dataset("folder", root=str(fake_folder.root), split="test")


def test_size_takes_a_seeded_random_subset(fake_folder):
    first = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16, size=6, seed=1)
    again = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16, size=6, seed=1)
    assert len(first) == 6 and torch.equal(first.images, again.images)
    assert torch.equal(first.labels, again.labels)


def test_large_folders_decode_lazily_to_the_same_values(fake_folder, monkeypatch):
    in_memory = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16)
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    lazy = build_dataset("folder", root=str(fake_folder.root), cond=True, res=16)
    assert lazy.images is None and lazy.skipped == 2 and len(lazy) == 12
    for index in (0, 5, 11):
        image, label = lazy[index]
        assert torch.equal(image, in_memory[index][0]) and label == in_memory.labels[index]


def test_a_file_that_breaks_after_listing_is_replaced_by_the_next_one(tmp_path, monkeypatch):
    folder = write_fake_folder(tmp_path / "images", per_class=2, junk=False)
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    dataset = build_dataset("folder", root=str(folder.root), cond=True, res=16)
    with open(dataset.paths[1], "r+b") as handle:
        handle.truncate(20)  # damaged after the dataset was built
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        image, label = dataset[1]
    replacement, replacement_label = dataset[2]
    assert torch.equal(image, replacement) and label == replacement_label
    assert dataset.skipped == 1


def test_many_files_decode_on_threads_in_sorted_order(tmp_path, monkeypatch):
    for i in range(70):  # above the 64 files where decoding goes to a thread pool
        Image.new("RGB", (10, 10), (i, 255 - i, 3 * i)).save(tmp_path / f"{i:03d}.png")
    dataset = build_dataset("folder", root=str(tmp_path), res=16)
    assert dataset.images[:, :, 5, 5].tolist() == [[i, 255 - i, 3 * i] for i in range(70)]
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)  # the header check goes threaded too
    assert len(build_dataset("folder", root=str(tmp_path), res=16)) == 70
