"""Files that try to hurt the loaders: decompression bombs, foreign formats behind an image name,
16-bit images, binary CelebA lists; and the skip report that says what was left out."""
from __future__ import annotations

import copy
import pickle
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import EpsImagePlugin, Image, ImageFile

import gancli.data.base as data_base
import gancli.data.image_files as image_files
from gancli.data import build_dataset
from gancli.data.base import SkipReport
from gancli.errors import GancliError

from .fake_datasets import write_fake_celeba


def write_png_bomb(path, side: int) -> int:
    """A valid black 1-bit ``side`` x ``side`` PNG, compressed row by row (never held in memory):
    13000x13000 is about 20 KB on disk and 169 MP (0.5 GB as RGB) once decoded. Returns its size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path.stat().st_size


@pytest.fixture
def decoded_sizes(monkeypatch):
    """Every (width, height) whose pixels PIL starts to decode."""
    sizes, load = [], ImageFile.ImageFile.load

    def spy(self):
        sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


@pytest.mark.parametrize("side", [9000, 13000])  # over our 64 MP cap; 13000 is also over PIL's warning
@pytest.mark.parametrize("lazy", [False, True])
def test_a_decompression_bomb_is_skipped_from_its_header(tmp_path, monkeypatch, decoded_sizes, side, lazy):
    if lazy:
        monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "a.png")
    assert write_png_bomb(tmp_path / "bomb.png", side) < 200_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's DecompressionBombWarning must not escape either
        dataset = build_dataset("folder", root=str(tmp_path), res=16)
    assert len(dataset) == 1 and dataset.skip_report.counts == {"too large": 1}
    assert dataset.skip_report.names == {"too large": ["bomb.png"]}
    assert dataset[0][0][:, 0, 0].tolist() == pytest.approx([1 / 127.5 - 1, 2 / 127.5 - 1, 3 / 127.5 - 1])
    assert all(w * h <= image_files.MAX_IMAGE_PIXELS for w, h in decoded_sizes)


def test_an_image_at_the_cap_still_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(image_files, "MAX_IMAGE_PIXELS", 64 * 64)
    Image.new("L", (64, 64), 200).save(tmp_path / "at.png")
    Image.new("L", (65, 64), 200).save(tmp_path / "over.png")
    dataset = build_dataset("folder", root=str(tmp_path), res=16)
    assert len(dataset) == 1 and dataset.images.unique().tolist() == [200]
    assert dataset.describe().endswith("1 files skipped (1 too large: over.png)")


def test_a_foreign_format_behind_an_image_name_is_never_decoded(tmp_path, monkeypatch):
    """EPS is rendered by running Ghostscript: a .png that is really EPS must not get there."""
    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *args, **kwargs: calls.append(args))
    Image.new("L", (8, 8), 50).save(tmp_path / "real.png")
    Image.new("L", (8, 8), 50).save(tmp_path / "fake.png", format="EPS")
    Image.new("L", (8, 8), 50).save(tmp_path / "tiff.png", format="TIFF")
    in_memory = build_dataset("folder", root=str(tmp_path), res=16)
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    lazy = build_dataset("folder", root=str(tmp_path), res=16)
    assert calls == []
    for dataset in (in_memory, lazy):
        assert len(dataset) == 1 and dataset.skip_report.counts == {"unreadable": 2}


@pytest.mark.parametrize("value, expected", [(0, 0), (257, 1), (25700, 100), (32896, 128), (65535, 255)])
def test_16_bit_grey_pngs_are_scaled_not_clipped(tmp_path, value, expected):
    Image.fromarray(np.full((20, 20), value, dtype=np.uint16)).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode.startswith("I")  # what Pillow gives for a 16-bit PNG
    dataset = build_dataset("folder", root=str(tmp_path), res=16)
    assert dataset.images.unique().tolist() == [expected]


def test_16_bit_gradient_keeps_its_order_and_range(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 16).round().astype(np.uint16), (16, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    image = build_dataset("folder", root=str(tmp_path), res=16).images[0, 0, 0]
    assert image.tolist() == np.rint(ramp[0] / 257).astype(np.uint8).tolist()


@pytest.mark.parametrize("array, expected", [
    (np.array([[0, 25700, 65535, 70000, -5]], dtype=np.int32), [0, 100, 255, 255, 0]),  # I: 16-bit range, clipped
    (np.array([[0.0, 0.5, 1.0, 1.5, -0.5]], dtype=np.float32), [0, 128, 255, 255, 0]),  # F: [0, 1], clipped
    (np.array([[np.nan, 0.2, 0, 0, 0]], dtype=np.float32), [0, 51, 0, 0, 0]),
])
def test_32_bit_int_and_float_grey_have_documented_ranges(array, expected):
    rgb = np.asarray(image_files._to_rgb(Image.fromarray(array)))
    assert rgb.shape == (1, 5, 3) and rgb[0, :, 0].tolist() == expected and (rgb[..., 0] == rgb[..., 2]).all()


def test_the_skip_report_names_every_reason(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    (tmp_path / "notes.txt").write_text("hi")
    write_png_bomb(tmp_path / "bomb.png", 9000)
    (tmp_path / "meta").mkdir()  # a sub-folder without images: its files were ignored silently
    (tmp_path / "meta" / "a.json").write_text("{}")
    dataset = build_dataset("folder", root=str(tmp_path), res=16)
    assert len(dataset) == 1 and dataset.skipped == 4
    assert dataset.skip_report.counts == {"not an image": 2, "too large": 1, "unreadable": 1}
    assert dataset.skip_report.names["not an image"] == ["notes.txt", "meta/a.json"]
    assert dataset.describe().endswith(
        "4 files skipped (2 not an image: notes.txt, meta/a.json; 1 too large: bomb.png; 1 unreadable: broken.png)")


def test_the_skip_report_keeps_a_few_names_and_survives_pickling():
    report = SkipReport()
    report.add("unreadable", [f"{i}.png" for i in range(5)])
    report.add("missing", "x.jpg")
    assert report.summary() == "6 files skipped (5 unreadable: 0.png, 1.png, 2.png, ...; 1 missing: x.jpg)"
    again = pickle.loads(pickle.dumps(report))
    again.add("missing", "y.jpg")
    assert again.counts == {"unreadable": 5, "missing": 2} and report.counts["missing"] == 1
    assert copy.deepcopy(report).summary() == report.summary() and SkipReport().summary() == ""


def test_a_file_that_breaks_at_training_time_is_reported_with_its_reason(tmp_path, monkeypatch):
    for i in range(3):
        Image.new("RGB", (8, 8), (i, i, i)).save(tmp_path / f"{i}.png")
    monkeypatch.setattr(data_base, "IN_MEMORY_MAX_IMAGES", 0)
    dataset = build_dataset("folder", root=str(tmp_path), res=16)
    write_png_bomb(tmp_path / "1.png", 9000)  # replaced after the listing
    with pytest.warns(UserWarning, match="skipping unreadable image .*1.png: 9000x9000 pixels is over the 64 MP limit"):
        images, _ = dataset.get_batch(torch.tensor([0, 1]))
    assert images[1, 0, 0, 0].item() == pytest.approx(2 / 127.5 - 1)  # replaced by the next file
    assert dataset.skip_report.counts == {"too large": 1} and dataset.skipped == 1


def test_celeba_missing_files_are_named(tmp_path):
    fake = write_fake_celeba(tmp_path)
    (fake.base / "img_align_celeba" / fake.files[1]).unlink()
    dataset = build_dataset("celeba", root=str(tmp_path), split="all")
    assert dataset.skip_report.counts == {"missing": 1} and dataset.skip_report.names["missing"] == [fake.files[1]]


@pytest.mark.parametrize("name", ["list_attr_celeba.txt", "list_eval_partition.txt"])
def test_a_binary_celeba_list_is_one_error_line(tmp_path, name):
    fake = write_fake_celeba(tmp_path)
    (fake.base / name).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)))
    with pytest.raises(GancliError) as error:
        build_dataset("celeba", root=str(tmp_path))
    assert str(error.value) == f"{fake.base / name} is not a text file (byte 0 is not UTF-8); is it the CelebA list?"
