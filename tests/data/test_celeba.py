"""``celeba``: both layouts, attributes, splits, the 178 crop, and what missing files say."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets

from gancli.data import build_dataset
from gancli.errors import GancliError

from .fake_datasets import CELEBA_ATTRIBUTES, write_fake_celeba


@pytest.mark.parametrize("layout", ["torchvision", "plain"])
def test_both_layouts_give_all_40_attributes_as_multi_hot(tmp_path, layout):
    fake = write_fake_celeba(tmp_path, layout=layout)
    dataset = build_dataset("celeba", root=str(tmp_path), cond=True, split="all", res=16)
    assert dataset.label_kind == "attrs" and dataset.attr_names == CELEBA_ATTRIBUTES
    assert dataset.n_classes == 0 and dataset.images is None
    assert dataset.labels.dtype == torch.float32
    assert torch.equal(dataset.labels, torch.from_numpy((fake.attributes > 0).astype(np.float32)))
    _, label = dataset[4]
    assert label.shape == (40,) and torch.equal(label, dataset.labels[4])


def test_attribute_subset_keeps_the_requested_order(fake_celeba_root):
    root, fake = fake_celeba_root
    dataset = build_dataset("celeba", root=str(root), cond=True, attrs=["Smiling", "Male"], split="all")
    assert dataset.attr_names == ["Smiling", "Male"]
    columns = [CELEBA_ATTRIBUTES.index("Smiling"), CELEBA_ATTRIBUTES.index("Male")]
    assert torch.equal(dataset.labels, torch.from_numpy((fake.attributes[:, columns] > 0).astype(np.float32)))
    torch.testing.assert_close(dataset.label_frequencies(), dataset.labels.mean(0))


@pytest.mark.parametrize("split, partition", [("train", 0), ("valid", 1), ("test", 2)])
def test_split_follows_the_partition_file(fake_celeba_root, split, partition):
    root, fake = fake_celeba_root
    dataset = build_dataset("celeba", root=str(root), cond=True, split=split, res=16)
    rows = np.flatnonzero(fake.partition == partition)
    assert len(dataset) == len(rows)
    assert [Path(path).name for path in dataset.paths] == [fake.files[i] for i in rows]
    assert torch.equal(dataset.labels, torch.from_numpy((fake.attributes[rows] > 0).astype(np.float32)))


@pytest.mark.parametrize("res", [16, 64])
def test_centre_178_crop_removes_the_bands_and_resizes(fake_celeba_root, res):
    root, fake = fake_celeba_root
    dataset = build_dataset("celeba", root=str(root), split="all", res=res)
    images, labels = dataset.get_batch(torch.arange(len(dataset)))
    assert images.shape == (6, 3, res, res) and labels.tolist() == [0] * 6
    pixels = (images + 1) * 127.5
    expected = torch.from_numpy(fake.colours).float()[:, :, None, None]
    # JPEG at quality 95 is within a couple of levels; a band left in would be ~100 levels off.
    assert (pixels - expected).abs().max() <= 3


def test_without_cond_celeba_is_unlabelled(fake_celeba_root):
    root, _ = fake_celeba_root
    dataset = build_dataset("celeba", root=str(root))
    assert dataset.label_kind == "none" and dataset.attr_names == [] and len(dataset) == 3
    assert "celeba: 3 images, 32x32 RGB, unlabelled, decoded per item" == dataset.describe()


def test_unknown_attribute_lists_the_valid_ones(fake_celeba_root):
    root, _ = fake_celeba_root
    with pytest.raises(GancliError, match=r"unknown CelebA attribute 'Smilling' \(did you mean Smiling\?\); valid ones: 5_o_Clock_Shadow, .*Young"):
        build_dataset("celeba", root=str(root), cond=True, attrs=["Male", "Smilling"])


def test_attrs_without_cond_errors(fake_celeba_root):
    root, _ = fake_celeba_root
    with pytest.raises(GancliError, match="pass --cond"):
        build_dataset("celeba", root=str(root), attrs=["Male"])


def test_missing_celeba_says_which_files_go_where(tmp_path):
    with pytest.raises(GancliError) as error:
        build_dataset("celeba", root=str(tmp_path))
    message = str(error.value)
    for expected in (f"{tmp_path}/celeba/img_align_celeba/", f"{tmp_path}/celeba/list_attr_celeba.txt",
                     f"{tmp_path}/celeba/list_eval_partition.txt", "img_align_celeba.zip",
                     "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", "Google Drive"):
        assert expected in message


def test_one_missing_text_file_is_named(fake_celeba_root):
    root, fake = fake_celeba_root
    (fake.base / "list_eval_partition.txt").unlink()
    with pytest.raises(GancliError, match=r"missing in .*celeba/: list_eval_partition.txt\."):
        build_dataset("celeba", root=str(root))


def test_an_unextracted_zip_is_pointed_out(tmp_path):
    (tmp_path / "celeba").mkdir()
    (tmp_path / "celeba" / "img_align_celeba.zip").write_bytes(b"PK")
    with pytest.raises(GancliError, match="img_align_celeba.zip is there: unzip it"):
        build_dataset("celeba", root=str(tmp_path))


def test_listed_images_missing_on_disk_are_skipped_and_counted(fake_celeba_root):
    root, fake = fake_celeba_root
    (fake.base / "img_align_celeba" / fake.files[1]).unlink()
    dataset = build_dataset("celeba", root=str(root), split="train")
    assert len(dataset) == 2 and dataset.skipped == 1
    assert "1 files skipped" in dataset.describe()


def test_malformed_attribute_line_is_reported_with_its_number(fake_celeba_root):
    root, fake = fake_celeba_root
    path = fake.base / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0]  # 39 values
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GancliError, match="list_attr_celeba.txt line 5: expected a file name and 40 values"):
        build_dataset("celeba", root=str(root), cond=True)


def test_failed_download_gives_the_manual_route(tmp_path, monkeypatch):
    def quota_exceeded(*args, **kwargs):
        raise RuntimeError("Too many users have viewed or downloaded this file recently")

    monkeypatch.setattr(torchvision.datasets, "CelebA", quota_exceeded)
    with pytest.raises(GancliError, match="torchvision could not download CelebA .*Too many users.*unpack them under"):
        build_dataset("celeba", root=str(tmp_path), download=True)


def test_download_is_not_attempted_when_the_files_are_there(fake_celeba_root, monkeypatch):
    root, _ = fake_celeba_root

    def must_not_run(*args, **kwargs):
        raise AssertionError("download attempted")

    monkeypatch.setattr(torchvision.datasets, "CelebA", must_not_run)
    assert len(build_dataset("celeba", root=str(root), download=True)) == 3
