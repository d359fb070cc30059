"""CIFAR-10 pickles are read with a restricted unpickler: data comes back, code never runs."""
from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest
import torch

from gancli.data import build_dataset
from gancli.data.cifar_files import read_batch
from gancli.errors import GancliError


class _Py2Pickler(pickle._Pickler):
    """Writes ``str`` and ``bytes`` as Python 2 ``str`` (BINSTRING), as the real CIFAR files do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def test_a_python2_style_batch_reads_back_exactly(tmp_path):
    """The real files: protocol 2, numpy.core.multiarray._reconstruct, pixel bytes as py2 str."""
    images = np.random.default_rng(0).integers(0, 256, size=(3, 3072), dtype=np.uint8)
    handle = tmp_path / "data_batch_1"
    with open(handle, "wb") as file:
        _Py2Pickler(file, protocol=2).dump({"batch_label": "training batch 1 of 5", "labels": [7, 0, 9], "data": images})
    raw = handle.read_bytes().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw
    handle.write_bytes(raw)
    data, labels = read_batch(handle)
    assert np.array_equal(data, images) and labels == [7, 0, 9]


class _WritesMarker:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class _RunsShell:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("payload, asked_for", [(_WritesMarker, "io.open"), (_RunsShell, "os.system")])
def test_a_crafted_batch_is_refused_before_its_payload_runs(fake_cifar_root, tmp_path, payload, asked_for):
    root, _ = fake_cifar_root
    marker = tmp_path / "pwned"
    batch = root / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({"labels": [0], "data": payload(marker)}, protocol=2))
    with pytest.raises(GancliError) as error:
        build_dataset("cifar10", root=str(root))
    assert not marker.exists()
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"refusing to load {batch}: it asks for {asked_for}, which a CIFAR-10 file never contains")


def test_a_crafted_meta_file_is_refused_too(fake_cifar_root, tmp_path):
    root, _ = fake_cifar_root
    marker = tmp_path / "pwned"
    (root / "cifar-10-batches-py" / "batches.meta").write_bytes(pickle.dumps({"label_names": _WritesMarker(marker)}))
    with pytest.raises(GancliError, match=r"refusing to load .*batches\.meta: it asks for io\.open"):
        build_dataset("cifar10", root=str(root), split="test")
    assert not marker.exists()


def test_codecs_encode_is_allowed_for_latin1_only(fake_cifar_root):
    root, _ = fake_cifar_root
    batch = root / "cifar-10-batches-py" / "test_batch"
    raw = pickle.dumps({"labels": [], "data": b"x"}, protocol=2)
    assert b"latin1" in raw
    batch.write_bytes(raw.replace(b"latin1", b"base64"))
    with pytest.raises(GancliError, match="could not read cifar10 .*UnpicklingError: _codecs.encode with encoding 'base64'"):
        build_dataset("cifar10", root=str(root), split="test")


@pytest.mark.parametrize("entry, why", [
    ({"labels": [1], "data": np.zeros((1, 3072), np.float32)}, "'data' must be uint8"),
    ({"labels": [1, 2], "data": np.zeros((1, 3072), np.uint8)}, "'labels' must be 1 ints in 0..9"),
    ({"labels": [10], "data": np.zeros((1, 3072), np.uint8)}, "'labels' must be 1 ints in 0..9"),
    ([1, 2, 3], "not a dict with 'data' and 'labels'"),
])
def test_a_batch_of_the_wrong_shape_is_reported_as_damaged(fake_cifar_root, entry, why):
    root, _ = fake_cifar_root
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(GancliError, match=f"could not read cifar10 .*{why}.*pass --download"):
        build_dataset("cifar10", root=str(root), split="test")


def test_download_reads_with_the_restricted_unpickler_too(fake_cifar_root, monkeypatch, tmp_path):
    """With --download, torchvision only fetches (here: nothing to fetch, checksums faked)."""
    import torchvision.datasets

    root, fake = fake_cifar_root
    calls = []
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", lambda self: calls.append(self.root))
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    dataset = build_dataset("cifar10", root=str(root), split="test", cond=True, download=True)
    assert calls == [str(root)]
    assert torch.equal(dataset.images, torch.from_numpy(fake.test_images))
    marker = tmp_path / "pwned"
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": _WritesMarker(marker)}))
    with pytest.raises(GancliError, match="refusing to load"):
        build_dataset("cifar10", root=str(root), split="test", download=True)
    assert not marker.exists()
