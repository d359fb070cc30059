"""GanDataset: the one interface the training loop sees, plus the checks and resize helpers
every loader shares.

Images are stored as uint8 ``(N, C, R, R)`` (in memory, or decoded per item) and leave the
dataset as float32 in [-1, 1]: ``x = u8 / 127.5 - 1``.
"""
from __future__ import annotations

import operator
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gancli.errors import GancliError
from gancli.registry import Registry

DATASETS: Registry = Registry("dataset")


@dataclass(frozen=True)
class DatasetTraits:
    """What the rest of gancli knows of a dataset besides its images, declared beside its builder
    (``declare_traits``) so that no other layer tests a dataset's name."""

    class_labels: bool = True  # its labels are classes: --cond on by default, --per-class; False: CelebA's attributes
    generated: bool = False  # made from a seed, no files (shapes): the seed is part of what it is, no root
    default_extractor: str = "inception"  # the features gancli eval and --eval-every use for a run on it
    shapes_scenes: bool = False  # drawn by the shapes renderer: shapes-factor-net reads its factors (spread, accuracy)
    downloadable: bool = False  # --download can fetch its files (torchvision's copies)


#: dataset name (one-domain or two-domain) -> its traits; a dataset that declares none has the defaults
DATASET_TRAITS: dict[str, DatasetTraits] = {}


def declare_traits(name: str, **traits) -> DatasetTraits:
    DATASET_TRAITS[name] = DatasetTraits(**traits)
    return DATASET_TRAITS[name]


def downloadable() -> list[str]:
    """The datasets ``--download`` can fetch."""
    return [name for name, traits in DATASET_TRAITS.items() if traits.downloadable]


def traits_of(name: str | None) -> DatasetTraits:
    """The traits of dataset ``name`` (the defaults for None or an unknown name)."""
    return DATASET_TRAITS.get(name or "", DatasetTraits())

#: powers of two, and 28: MNIST's and Fashion-MNIST's own size (read there without resizing)
VALID_RESOLUTIONS = (16, 28, 32, 64, 128, 256)
LABEL_KINDS = ("none", "class", "attrs")
# Datasets up to this many images / bytes (at the target resolution) are decoded once and kept
# in memory as uint8; anything larger is decoded per item.
IN_MEMORY_MAX_IMAGES = 20_000
IN_MEMORY_MAX_BYTES = 2 * 1024**3


def check_resolution(res: int) -> int:
    """Return ``res`` as an int if it is one of VALID_RESOLUTIONS (16, 28, 32, ..., 256), else raise GancliError."""
    try:
        value = None if isinstance(res, bool) else operator.index(res)  # ints, numpy ints; not 32.0
    except TypeError:
        value = None
    if value not in VALID_RESOLUTIONS:
        valid = ", ".join(str(r) for r in VALID_RESOLUTIONS)
        raise GancliError(f"resolution {res!r} is not supported; choose one of: {valid}")
    return value


def check_split(name: str, split: str, valid: Sequence[str]) -> str:
    """Return ``split`` if ``name`` has it, else raise GancliError listing the ones it has."""
    if split not in valid:
        raise GancliError(f"{name} has no split '{split}'; choose one of: {', '.join(valid)}")
    return split


def reject_attrs(name: str, attrs: Sequence[str] | None) -> None:
    """``attrs`` selects CelebA-style attributes; any other dataset refuses it."""
    if attrs:
        raise GancliError(
            f"--attrs needs an attribute-labelled dataset (celeba), but {name} has none"
        )


def in_memory_budget(n_images: int, channels: int, res: int) -> bool:
    """True when ``n_images`` uint8 images fit both limits (count and bytes)."""
    return n_images <= IN_MEMORY_MAX_IMAGES and n_images * channels * res * res <= IN_MEMORY_MAX_BYTES


def subset_indices(n_total: int, size: int | None, seed: int) -> np.ndarray | None:
    """Sorted random indices of ``size`` items out of ``n_total`` (None: keep everything).

    Random rather than the first ``size`` so that class-sorted sources stay balanced.
    """
    check_size(size)
    if size is None or size >= n_total:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=size, replace=False))


def check_size(size: int | None) -> None:
    if size is not None and size < 1:
        raise GancliError(f"--size must be at least 1, got {size}")


def to_float(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 ``(..., C, H, W)`` in 0..255 -> float32 in [-1, 1]."""
    return images_u8.to(torch.float32).div_(127.5).sub_(1.0)


def resize_uint8(images: torch.Tensor, res: int, chunk_pixels: int = 1 << 24) -> torch.Tensor:
    """Antialiased bicubic resize of uint8 ``(N, C, H, W)`` to uint8 ``(N, C, res, res)``.

    Returns the input unchanged when it is already ``res`` x ``res`` (so values round-trip
    exactly). Works in chunks of about ``chunk_pixels`` input values to bound float memory.
    """
    n, channels, height, width = images.shape
    if height == res and width == res:
        return images
    out = torch.empty((n, channels, res, res), dtype=torch.uint8)
    step = max(1, chunk_pixels // max(1, channels * max(height * width, res * res)))
    for start in range(0, n, step):
        block = images[start : start + step].to(torch.float32)
        block = F.interpolate(block, size=(res, res), mode="bicubic", antialias=True, align_corners=False)
        out[start : start + step] = block.round_().clamp_(0, 255).to(torch.uint8)
    return out


# Why a file was left out (the keys of SkipReport.counts).
NOT_AN_IMAGE, UNREADABLE, TOO_LARGE, MISSING = "not an image", "unreadable", "too large", "missing"


class SkipReport:
    """Files a loader left out, counted by reason, with the first few names of each, so that a
    user can find them: ``describe()`` ends with :meth:`summary`, e.g.
    ``3 files skipped (2 unreadable: owl/broken.png, b.png; 1 not an image: notes.txt)``.

    Reasons used: "not an image" (other extensions, loose files, files in sub-folders that hold
    no images), "unreadable" (corrupt, truncated, or not a format gancli reads), "too large"
    (declared size over the pixel cap), "missing" (listed but not on disk). Safe to add to from
    the decoding threads.
    """

    MAX_NAMES = 3

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.names: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, reason: str, names: Sequence[str] | str) -> None:
        """Count ``names`` (one name, or several) as skipped for ``reason``."""
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            return
        with self._lock:
            self.counts[reason] = self.counts.get(reason, 0) + len(names)
            kept = self.names.setdefault(reason, [])
            kept += names[: self.MAX_NAMES - len(kept)]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def details(self) -> str:
        """``"k reason: name, name, ...; ..."`` (in the order reasons were first met)."""
        parts = []
        for reason, count in self.counts.items():
            more = ", ..." if count > len(self.names[reason]) else ""
            parts.append(f"{count} {reason}: {', '.join(self.names[reason])}{more}")
        return "; ".join(parts)

    def summary(self) -> str:
        """``"N files skipped (details)"``; "" when nothing was skipped."""
        return f"{self.total} files skipped ({self.details()})" if self.total else ""

    def __getstate__(self) -> dict:  # a DataLoader with worker processes pickles the dataset
        return {"counts": self.counts, "names": self.names}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        self.counts, self.names = state["counts"], state["names"]

    def __repr__(self) -> str:
        return f"<SkipReport {self.summary() or 'nothing skipped'}>"


class GanDataset(Dataset):
    """Images plus labels, at one resolution, in the form every GAN in gancli consumes.

    Attributes:
        name: registry name ("shapes", "cifar10", ...).
        resolution: R; every image is ``(channels, R, R)``.
        channels: 3, or 1 for mnist / fashion-mnist.
        label_kind: "none" | "class" | "attrs".
        n_classes: number of classes when label_kind == "class", else 0.
        class_names: human names, ``len == n_classes``.
        attr_names: attribute names when label_kind == "attrs", else [].
        labels: int64 ``(N,)`` (zeros for "none") or float32 ``(N, k)`` multi-hot 0/1 for "attrs".
        images: uint8 ``(N, C, R, R)`` when held in memory, else None (decoded per item).
        skipped: number of files left out (``skip_report.total``).
        skip_report: :class:`SkipReport`, those files by reason, with a few names of each.

    Subclasses that decode lazily implement ``_decode(index) -> (uint8 (C, R, R), label)``
    and may override ``_decode_batch`` with a vectorised version.
    """

    def __init__(
        self,
        *,
        name: str,
        resolution: int,
        channels: int,
        label_kind: str,
        labels: torch.Tensor,
        class_names: Sequence[str] = (),
        attr_names: Sequence[str] = (),
        images: torch.Tensor | None = None,
        skipped: SkipReport | None = None,
    ):
        if label_kind not in LABEL_KINDS:
            raise ValueError(f"label_kind must be one of {LABEL_KINDS}, got {label_kind!r}")
        if label_kind == "attrs":
            if labels.dtype != torch.float32 or labels.ndim != 2 or labels.shape[1] != len(attr_names):
                raise ValueError(f"attrs labels must be float32 (N, {len(attr_names)}), got {labels.dtype} {tuple(labels.shape)}")
        elif labels.dtype != torch.int64 or labels.ndim != 1:
            raise ValueError(f"{label_kind} labels must be int64 (N,), got {labels.dtype} {tuple(labels.shape)}")
        if images is not None and (
            images.dtype != torch.uint8 or tuple(images.shape[1:]) != (channels, resolution, resolution)
            or images.shape[0] != labels.shape[0]
        ):
            raise ValueError(f"images must be uint8 (N, {channels}, {resolution}, {resolution}), got {images.dtype} {tuple(images.shape)}")
        self.name = name
        self.resolution = resolution
        self.channels = channels
        self.label_kind = label_kind
        self.class_names = list(class_names) if label_kind == "class" else []
        self.n_classes = len(self.class_names)
        self.attr_names = list(attr_names) if label_kind == "attrs" else []
        self.labels = labels
        self.images = images
        self.skip_report = skipped if skipped is not None else SkipReport()

    @property
    def skipped(self) -> int:
        return self.skip_report.total

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(image float32 (C, R, R) in [-1, 1], label)``; label is an int64 scalar
        (class, or 0 for "none") or float32 ``(k,)`` multi-hot."""
        index = range(len(self))[index]  # normalises negatives, raises IndexError past the end
        if self.images is not None:
            return to_float(self.images[index]), self.labels[index]
        image, label = self._decode(index)
        return to_float(image), label

    def get_batch(self, indices: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``indices (B,)`` -> ``(images float32 (B, C, R, R) in [-1, 1], labels (B,) or (B, k))``."""
        images, labels = self.get_uint8_batch(indices)
        return to_float(images), labels

    def get_uint8_batch(self, indices: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``indices (B,)`` -> ``(images uint8 (B, C, R, R), labels)``: the stored pixels, as FID
        tools read them."""
        indices = torch.as_tensor(indices, dtype=torch.int64).reshape(-1)
        if self.images is not None:
            return self.images[indices], self.labels[indices]
        return self._decode_batch(indices)

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} holds no images and does not decode")

    def _decode_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        items = [self._decode(int(i)) for i in indices]
        if not items:
            empty = torch.empty((0, self.channels, self.resolution, self.resolution), dtype=torch.uint8)
            return empty, self.labels[indices]
        return torch.stack([image for image, _ in items]), torch.stack([label for _, label in items])

    def label_frequencies(self) -> torch.Tensor:
        """Fraction of images per class ``(n_classes,)`` (sums to 1), or per attribute ``(k,)``
        (fraction of images with the attribute); empty for "none"."""
        if self.label_kind == "class":
            counts = torch.bincount(self.labels, minlength=self.n_classes).to(torch.float32)
            return counts / max(1, len(self))
        if self.label_kind == "attrs":
            return self.labels.mean(dim=0) if len(self) else torch.zeros(len(self.attr_names))
        return torch.zeros(0)

    def describe(self) -> str:
        """One line for the log, e.g.
        ``shapes: 20000 images, 32x32 RGB, 8 classes (circle, square, triangle, ...), in memory``."""
        colour = "RGB" if self.channels == 3 else "grey"
        if self.label_kind == "class":
            labels = f"{self.n_classes} classes ({_short_list(self.class_names)})"
        elif self.label_kind == "attrs":
            labels = f"{len(self.attr_names)} attributes ({_short_list(self.attr_names)})"
        else:
            labels = "unlabelled"
        storage = "in memory" if self.images is not None else "decoded per item"
        line = f"{self.name}: {len(self)} images, {self.resolution}x{self.resolution} {colour}, {labels}, {storage}"
        if self.skipped:
            line += f", {self.skip_report.summary()}"
        return line

    def __repr__(self) -> str:
        return f"<GanDataset {self.describe()}>"


def _short_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... {len(names) - limit} more" if len(names) > limit else "")


class ArrayDataset(GanDataset):
    """A dataset whose source is a uint8 ``(N, C, H, W)`` tensor too big to keep resized:
    each item or batch is resized to R on the fly with :func:`resize_uint8`."""

    def __init__(self, *, source: torch.Tensor, **kwargs):
        super().__init__(images=None, **kwargs)
        self._source = source

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return resize_uint8(self._source[index : index + 1], self.resolution)[0], self.labels[index]

    def _decode_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return resize_uint8(self._source[indices], self.resolution), self.labels[indices]


def array_dataset(*, source: torch.Tensor, res: int, **kwargs) -> GanDataset:
    """uint8 ``(N, C, H, W)`` source -> a GanDataset at ``res``, in memory when it fits."""
    n, channels = source.shape[:2]
    if in_memory_budget(n, channels, res):
        return GanDataset(images=resize_uint8(source, res), resolution=res, channels=channels, **kwargs)
    return ArrayDataset(source=source, resolution=res, channels=channels, **kwargs)
