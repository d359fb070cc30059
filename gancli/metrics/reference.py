"""The reference side of FID / KID / PR: real images, their features, and the features cache.

A reference is a dataset by name (by default the run's own training data, at the generator's
resolution), a folder of images (brought to that resolution as training does: centre square crop,
Lanczos resize), or an .npz holding uint8 images (which must already be at that resolution).

Reference features are cached, keyed by everything that changes them: source (dataset name, root,
split, subset / seed; or folder listing; or file size and time), resolution, feature extractor and
image count. The cache is a directory of ``.pt`` files (``$GANCLI_CACHE_DIR``, else
``$XDG_CACHE_HOME/gancli/ref-features``, else ``~/.cache/gancli/ref-features``): plain tensors,
loaded with ``weights_only=True`` (an entry cannot run code), used only when its stored key and
feature shapes match, and written atomically.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from gancli.checkpoint import atomic_write_bytes
from gancli.errors import GancliError
from gancli.data import build_dataset, traits_of
from gancli.data.base import subset_indices

CACHE_FORMAT = 1
DEFAULT_REF_MAX = 50_000  # reference images used by default: the whole split, up to this many


@dataclass
class Reference:
    """Real images to compare against: ``batches(batch_size)`` yields uint8 (B, 3, R, R)."""

    description: str  # for the table and the JSON ("shapes train, 20000 images", "folder x/ ...")
    key: dict[str, Any]  # what the cache key is made of (besides extractor and count)
    n: int
    resolution: int
    labels: torch.Tensor | None  # int64 (n,) class labels, or None
    class_names: list[str] = field(default_factory=list)
    _read: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)  # indices -> uint8

    def read(self, indices: torch.Tensor) -> torch.Tensor:
        """uint8 (len(indices), 3, R, R): the reference images at ``indices`` (grey as RGB)."""
        images = self._read(indices)
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, self.n, batch_size):
            yield self.read(torch.arange(start, min(start + batch_size, self.n)))


def dataset_reference(ds, key: dict[str, Any], ref_n: int | None = None) -> Reference:
    """A :class:`~gancli.data.base.GanDataset` as a reference: ``ref_n`` images (default: all, up to
    50,000), a fixed random subset when fewer than the whole set (class-sorted data stays balanced)."""

    total = len(ds)
    n = min(total, DEFAULT_REF_MAX) if ref_n is None else ref_n
    if n > total:
        raise GancliError(f"--ref-n {n} is more than the {total} reference images available")
    picked = subset_indices(total, n, seed=0)
    order = torch.arange(total) if picked is None else torch.from_numpy(picked)
    labels = ds.labels[order] if ds.label_kind == "class" else None
    split = key.get("split")
    description = f"{ds.name}{' ' + split if split else ''}, {n} images at {ds.resolution}px"
    return Reference(description, dict(key), n, ds.resolution, labels, list(ds.class_names),
                     lambda idx: ds.get_uint8_batch(order[idx])[0])


def folder_reference(path: Path, res: int, ref_n: int | None) -> Reference:

    path = Path(path).expanduser()
    if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
        raise GancliError(f"reference folder {path} is not a readable directory")
    has_classes = any(child.is_dir() and not child.name.startswith(".") for child in path.iterdir())
    ds = build_dataset("folder", root=str(path), res=res, cond=has_classes, split="all")
    key = {"source": "folder", "path": str(path.resolve()), "files": listing_digest(path), "res": res}
    ref = dataset_reference(ds, key, ref_n)
    ref.description = f"folder {path}, {ref.n} images at {res}px"
    return ref


def npz_reference(path: Path, res: int, ref_n: int | None) -> Reference:
    """An .npz whose ``images`` (or only array) is uint8 (N, H, W, C) or (N, C, H, W), C 1 or 3;
    optional ``labels`` (N,) int.

    Read with ``allow_pickle=False`` (an object array would unpickle, and so run, whatever it
    holds), and each array's shape and dtype are checked from its .npy header before it is
    decompressed, so a wrong or oversized array (a zip bomb) is refused before memory is taken.
    """
    path = Path(path).expanduser()
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise GancliError(f"reference {path} holds a single .npy array, not an .npz archive; "
                              "write it with numpy.savez(path, images=...)")
        with archive:
            names = list(archive.files)
            key = "images" if "images" in names else names[0] if len(names) == 1 else None
            if key is None:
                raise GancliError(f"reference {path} has no 'images' array (it has: {', '.join(names)})")
            channels_last = _check_images_header(path, *_array_header(archive, key), res)
            images = archive[key]
            labels = None
            if "labels" in names and key != "labels":
                shape, dtype = _array_header(archive, "labels")
                if len(shape) == 1 and shape[0] == len(images) and np.issubdtype(dtype, np.integer):
                    labels = archive["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise GancliError(f"cannot read reference {path}: {(str(err).splitlines() or [type(err).__name__])[0]}") from None
    if channels_last:
        images = images.transpose(0, 3, 1, 2)
    stat = path.stat()
    key = {"source": "npz", "path": str(path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns}
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    n_all = len(tensor)
    n = n_all if ref_n is None else ref_n
    if n > n_all:
        raise GancliError(f"--ref-n {n} is more than the {n_all} images in {path}")
    label_tensor = torch.from_numpy(labels.astype(np.int64))[:n] if labels is not None else None
    return Reference(f"{path.name}, {n} images at {res}px", key, n, res, label_tensor, [], lambda idx: tensor[idx])


def _array_header(archive: np.lib.npyio.NpzFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of one array of an .npz, read from its .npy header alone. ValueError when
    the header declares more bytes than the archive stores for that member."""
    members = archive.zip.namelist()
    member = archive.zip.getinfo(f"{name}.npy" if f"{name}.npy" in members else name)
    with archive.zip.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"'{name}' is .npy format version {version[0]}.{version[1]}, which gancli does not read")
        shape, _, dtype = readers[version](handle)
    if math.prod(shape) * dtype.itemsize > member.file_size:
        raise ValueError(f"'{name}' declares {dtype} {shape}, more than the {member.file_size} bytes stored for it")
    return shape, dtype


def _check_images_header(path: Path, shape: tuple[int, ...], dtype: np.dtype, res: int) -> bool:
    """Raise GancliError unless ``shape`` / ``dtype`` are uint8 images at ``res``; True when the
    channels come last (N, H, W, C)."""
    if dtype != np.uint8 or len(shape) != 4:
        raise GancliError(f"reference {path}: images must be uint8 (N, H, W, C), got {dtype} {shape}")
    channels_last = shape[-1] in (1, 3) and shape[1] not in (1, 3)
    channels, height, width = (shape[3], shape[1], shape[2]) if channels_last else shape[1:]
    if channels not in (1, 3):
        raise GancliError(f"reference {path}: images must have 1 or 3 channels, got shape {shape}")
    if (height, width) != (res, res):
        raise GancliError(f"resolution mismatch: reference {path} holds {width}x{height} "
                          f"images but the generator makes {res}x{res}")
    return channels_last


def dataset_key(name: str, root: str | None, split: str, size: int | None, seed: int, res: int) -> dict[str, Any]:
    """The cache key of a dataset reference (shared by ``gancli eval`` and ``train --eval-every``).

    The root is resolved (torchvision sets and CelebA default to ./data); a ``folder`` dataset is
    also keyed by its file listing, so replacing images invalidates the cache."""
    key: dict[str, Any] = {"source": "dataset", "dataset": name, "split": split, "size": size,
                           "seed": seed if (traits_of(name).generated or size) else None, "res": res}
    if not traits_of(name).generated:
        key["root"] = str(Path(root or "data").expanduser().resolve())
    if name == "folder" and root is not None and Path(root).is_dir():
        key["files"] = listing_digest(Path(root))
    return key


def listing_digest(path: Path) -> str:
    """A digest of every file's relative name, size and modification time under ``path``."""
    listing = hashlib.sha1()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        listing.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return listing.hexdigest()


# ---------------------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    if os.environ.get("GANCLI_CACHE_DIR"):
        return Path(os.environ["GANCLI_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gancli" / "ref-features"


def cache_path(ref: Reference, extractor: str, layers: list[str], root: Path | None = None) -> Path:
    key = {"format": CACHE_FORMAT, **ref.key, "extractor": extractor, "layers": sorted(layers), "n": ref.n}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    extractor = extractor.split("@")[0]  # a local weights file is in the digest, not the name
    stem = "-".join(str(part) for part in (ref.key.get("dataset") or ref.key.get("source"), ref.key.get("split")) if part)
    return (root or cache_dir()) / f"{stem}-{ref.resolution}px-{extractor}-{ref.n}-{digest}.pt"


def _usable_entry(stored: Any, ref: Reference, layers: list[str]) -> bool:
    """A cache entry is used only when it was written for this very key and holds float32
    ``(n, d)`` features for every layer; anything else (a foreign, truncated or edited file) is
    recomputed rather than fed to the metrics."""
    if not isinstance(stored, dict) or not isinstance(stored.get("key"), str):
        return False
    if json.loads(stored["key"]) != json.loads(json.dumps(ref.key, default=str)):  # key order aside
        return False
    features = stored.get("features")
    return isinstance(features, dict) and all(
        isinstance(features.get(layer), torch.Tensor) and features[layer].dtype == torch.float32
        and features[layer].ndim == 2 and len(features[layer]) == ref.n for layer in layers)


def reference_features(ref: Reference, extract: Callable[[torch.Tensor], dict[str, torch.Tensor]],
                       extractor: str, layers: list[str], batch_size: int = 100, use_cache: bool = True,
                       root: Path | None = None) -> tuple[dict[str, torch.Tensor], bool]:
    """Features of every reference image, ``{layer: float32 (n, d)}``, and whether they came from
    the cache. ``extract(uint8 (B, 3, R, R)) -> {layer: (B, d)}``."""
    path = cache_path(ref, extractor, layers, root)
    if use_cache and path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if _usable_entry(stored, ref, layers):
                return {layer: stored["features"][layer] for layer in layers}, True
        except Exception:  # an unreadable cache entry is recomputed and replaced, never fatal
            pass
    parts: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    for images in ref.batches(batch_size):
        out = extract(images)
        for layer in layers:
            parts[layer].append(out[layer].float().cpu())
    features = {layer: torch.cat(chunks) for layer, chunks in parts.items()}
    if use_cache:
        try:
            atomic_write_bytes(path, lambda f: torch.save({"format": CACHE_FORMAT, "key": json.dumps(ref.key, default=str),
                                                           "features": features}, f))
        except OSError:  # a read-only cache directory slows later runs but breaks nothing
            pass
    return features, False
