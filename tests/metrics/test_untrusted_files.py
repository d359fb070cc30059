"""Files the evaluation reads that a user did not write: .npz references, Inception weights (given
or in torch's hub cache), and the reference-feature cache. None may run code; bad ones are one
GancliError line or, for the cache, recomputed."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from gancli.errors import GancliError
from gancli.metrics import extractors
from gancli.metrics.reference import Reference, npz_reference, reference_features


class _WritesMarker:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


# ---------------------------------------------------------------------------------------- .npz
def test_an_npz_with_an_object_array_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    np.savez(tmp_path / "ref.npz", images=np.array([_WritesMarker(marker)], dtype=object))
    with pytest.raises(GancliError, match=r"ref\.npz: images must be uint8 \(N, H, W, C\), got object \(1,\)"):
        npz_reference(tmp_path / "ref.npz", 8, None)
    images = np.zeros((2, 8, 8, 3), np.uint8)
    np.savez(tmp_path / "ref.npz", images=images, labels=np.array([_WritesMarker(marker)] * 2, dtype=object))
    assert npz_reference(tmp_path / "ref.npz", 8, None).labels is None  # unusable labels are ignored, unread
    np.savez(tmp_path / "ref.npz", images=np.array([_WritesMarker(marker)], dtype=object))
    with pytest.raises(ValueError, match="Object arrays cannot be loaded when allow_pickle=False"):
        np.load(tmp_path / "ref.npz", allow_pickle=False)["images"]  # the guard behind the header check
    assert not marker.exists()


def test_a_pickle_named_npz_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "ref.npz").write_bytes(__import__("pickle").dumps(_WritesMarker(marker)))
    with pytest.raises(GancliError, match=r"cannot read reference .*contains pickled \(object\) data"):
        npz_reference(tmp_path / "ref.npz", 8, None)
    assert not marker.exists()


def test_a_single_npy_array_named_npz_is_one_error_line(tmp_path):
    with open(tmp_path / "ref.npz", "wb") as handle:
        np.save(handle, np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(GancliError, match=r"holds a single \.npy array, not an \.npz archive; write it with numpy.savez"):
        npz_reference(tmp_path / "ref.npz", 8, None)


def test_an_npz_header_declaring_more_than_it_stores_is_refused_before_loading(tmp_path):
    """A zip member whose .npy header claims 10^12 bytes: refused from the header, nothing allocated."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (1_000_000, 1000, 1000, 1)})
    with zipfile.ZipFile(tmp_path / "ref.npz", "w") as archive:
        archive.writestr("images.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"\x00" * 64)
    with pytest.raises(GancliError, match=r"cannot read reference .*'images' declares uint8 \(1000000, 1000, 1000, 1\), more than"):
        npz_reference(tmp_path / "ref.npz", 1000, None)


def test_a_wrong_resolution_is_refused_from_the_header(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "ref.npz", images=np.zeros((3, 64, 64, 3), np.uint8))
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, key: pytest.fail("array was loaded"))
    with pytest.raises(GancliError, match="resolution mismatch: .*holds 64x64 images but the generator makes 32x32"):
        npz_reference(tmp_path / "ref.npz", 32, None)


def test_a_good_npz_reads_back_its_pixels_and_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "ref.npz", images=images, labels=np.arange(5))
    ref = npz_reference(tmp_path / "ref.npz", 8, 4)
    assert ref.n == 4 and ref.labels.tolist() == [0, 1, 2, 3]
    assert torch.equal(next(ref.batches(10)), torch.from_numpy(images[:4].transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------------------------------- Inception weights
@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """torch's hub cache under tmp_path; returns where the Inception weights would be."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = extractors.inception_cache_path()
    path.parent.mkdir(parents=True)
    return path


def _inception_state() -> dict[str, torch.Tensor]:
    """A state dict with torch-fidelity's InceptionV3 structure (random values, zero download)."""
    from unittest import mock

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    torch.manual_seed(0)
    with mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}), \
            mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None):
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict()


def test_a_crafted_file_in_the_hub_cache_is_refused_before_its_payload_runs(hub_cache, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"fc.weight": _WritesMarker(marker)}, hub_cache)
    with pytest.raises(GancliError) as error:
        extractors.build_extractor("inception", ["2048"])
    assert not marker.exists()
    message = str(error.value)
    assert message == (f"the cached Inception weights {hub_cache} is not a readable weights file (a pickle that "
                       "needs code to load: it asks for io.open); delete it to download them again")


def test_weights_on_disk_never_reach_a_full_unpickler(hub_cache, tmp_path, monkeypatch):
    """torch-fidelity loads with weights_only=False: it must only ever get our re-saved tensors."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    state = _inception_state()
    torch.save(state, hub_cache)
    torch.save(state, tmp_path / "given.pth")
    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: pytest.fail("tried to download"))
    seen, load = [], torch.load
    monkeypatch.setattr(inception.torch, "load", lambda source, **kw: seen.append((type(source), kw)) or load(source, **kw))
    for weights in (None, tmp_path / "given.pth"):
        net = extractors.build_extractor("inception", ["2048"], weights=weights)
        torch.testing.assert_close(net.fc.weight, state["fc.weight"], rtol=0, atol=0)
    assert [source for source, kw in seen if not kw.get("weights_only")] == [io.BytesIO, io.BytesIO]


# ---------------------------------------------------------------------------------------- feature cache
def _reference(n: int = 4) -> Reference:
    images = torch.arange(n * 3 * 4 * 4, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(n, 3, 4, 4)
    return Reference("test", {"source": "npz", "path": "/x.npz", "size": 1}, n, 4, None, [], lambda idx: images[idx])


def _extract(images: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"f": images.float().flatten(1)[:, :2]}


@pytest.mark.parametrize("edit", [
    lambda entry: {**entry, "key": json.dumps({"source": "npz", "path": "/other.npz", "size": 1})},
    lambda entry: {**entry, "features": {"f": entry["features"]["f"].to(torch.int64)}},
    lambda entry: {**entry, "features": {"f": entry["features"]["f"].flatten()}},
])
def test_a_cache_entry_that_does_not_match_is_recomputed(tmp_path, edit):
    ref = _reference()
    first, cached = reference_features(ref, _extract, "x", ["f"], root=tmp_path)
    assert cached is False
    (path,) = tmp_path.glob("*.pt")
    entry = torch.load(path, weights_only=True)
    torch.save(edit({**entry, "features": {"f": entry["features"]["f"] + 1000}}), path)
    again, cached = reference_features(ref, _extract, "x", ["f"], root=tmp_path)
    assert cached is False and torch.equal(again["f"], first["f"])
    assert reference_features(ref, _extract, "x", ["f"], root=tmp_path)[1] is True  # rewritten, now usable


def test_a_crafted_cache_entry_never_runs(tmp_path):
    ref = _reference()
    reference_features(ref, _extract, "x", ["f"], root=tmp_path)
    (path,) = tmp_path.glob("*.pt")
    marker = tmp_path / "pwned"
    torch.save({"key": json.dumps(ref.key), "features": {"f": _WritesMarker(marker)}}, path)
    features, cached = reference_features(ref, _extract, "x", ["f"], root=tmp_path)
    assert cached is False and not marker.exists() and features["f"].shape == (4, 2)
