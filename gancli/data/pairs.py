"""Two-domain datasets for unpaired image-to-image translation (CycleGAN, Zhu et al. 2017):
``pair`` (a CycleGAN-style folder) and ``shapes-pair`` (built in, see :mod:`gancli.data.shapes_pair`).

>>> pair = build_pair_dataset("shapes-pair", res=32, size=1000)
>>> pair.describe()
'shapes-pair (filled shapes on dark -> outlines on light) (train, unpaired): A = shapes-pair/A: 1000 images, ...'
>>> x_a, _ = pair.a.get_batch(torch.arange(16))   # float32 (16, 3, 32, 32) in [-1, 1]
>>> a, b, classes = pair.ground_truth("test", n=64)  # the same 64 scenes in both styles

``.a`` and ``.b`` are ordinary, unconditional GanDatasets of independent sizes: image i of A and
image i of B are unrelated (that is what "unpaired" means), so a method samples each on its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from gancli.data.base import GanDataset, SkipReport, check_resolution, check_size, check_split
from gancli.data.folder import build_folder, scan_folder
from gancli.data.image_files import IMAGE_EXTENSIONS
from gancli.errors import GancliError
from gancli.registry import Registry

PAIR_DATASETS: Registry = Registry("two-domain dataset")
PAIR_SPLITS = ("train", "test")

#: ``ground_truth(split, n) -> (a float32 (n, C, R, R), b float32 (n, C, R, R), classes int64 (n,))``
GroundTruth = Callable[[str, "int | None"], "tuple[torch.Tensor, torch.Tensor, torch.Tensor]"]


class TwoDomainDataset:
    """Domain A and domain B images at one resolution, for translation A <-> B.

    Attributes:
        name: registry name ("pair", "shapes-pair").
        split: "train" or "test".
        a, b: GanDataset of each domain, label_kind "none"; their lengths may differ.
        resolution, channels: shared by both domains (the translators' input and output shape).
        class_names: the scene classes kept for evaluation (shapes-pair), else [].
        a_classes, b_classes: int64 ``(len(a),)`` / ``(len(b),)`` scene class of every image
            (shapes-pair), else None. Training ignores them; a classifier can check that the
            class survives translation.
        source: where the data came from (a directory, or a short description), for describe().
    """

    def __init__(self, *, name: str, split: str, a: GanDataset, b: GanDataset, source: str = "",
                 class_names: list[str] | None = None, a_classes: torch.Tensor | None = None,
                 b_classes: torch.Tensor | None = None, ground_truth: GroundTruth | None = None):
        if (a.resolution, a.channels) != (b.resolution, b.channels):
            raise ValueError(f"domains differ in shape: A {a.channels}x{a.resolution}, B {b.channels}x{b.resolution}")
        self.name = name
        self.split = split
        self.a = a
        self.b = b
        self.source = source
        self.class_names = list(class_names or [])
        self.a_classes = a_classes
        self.b_classes = b_classes
        self._ground_truth = ground_truth
        self._rebuild: Callable[[str], "TwoDomainDataset"] | None = None  # set by build_pair_dataset

    def split_of(self, split: str) -> "TwoDomainDataset":
        """The same dataset (name, root, resolution, seed, size) read for another split, e.g. the
        test images training shows in its grids; itself when ``split`` is its own."""
        if split == self.split or self._rebuild is None:
            return self
        return self._rebuild(split)

    @property
    def resolution(self) -> int:
        return self.a.resolution

    @property
    def channels(self) -> int:
        return self.a.channels

    @property
    def skip_report(self) -> SkipReport:
        """The files both domains' loaders left out, names prefixed with their domain folder."""
        report = SkipReport()
        for data in (self.a, self.b):
            for reason, names in data.skip_report.names.items():
                prefix = data.name.split("/")[-1]
                report.add(reason, [f"{prefix}/{name}" for name in names])
                extra = data.skip_report.counts[reason] - len(names)
                if extra > 0:  # counted, names not kept
                    report.counts[reason] += extra
        return report

    @property
    def has_ground_truth(self) -> bool:
        return self._ground_truth is not None

    def ground_truth(self, split: str = "test", n: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The first ``n`` (None: all) A scenes of ``split`` and the same scenes in B's style:
        ``(a float32 (n, C, R, R), b float32 (n, C, R, R), classes int64 (n,))``, values in
        [-1, 1]; ``a`` equals ``build_pair_dataset(..., split=split).a`` image for image, and
        ``b`` is the exact translation (B's full variation even with ``narrow_b``). Only built-in
        data knows it; folders raise GancliError."""
        if self._ground_truth is None:
            raise GancliError(f"{self.name} has no ground truth (unpaired files); only shapes-pair knows the true translation")
        check_split(self.name, split, PAIR_SPLITS)
        check_size(n)
        return self._ground_truth(split, n)

    def describe(self) -> str:
        """One line, e.g. ``pair data/horse2zebra (train, unpaired): A = pair/trainA: 1067
        images, 64x64 RGB, unlabelled, in memory; B = pair/trainB: 1334 images, ...``."""
        head = f"{self.name} {self.source}".rstrip()
        line = f"{head} ({self.split}, unpaired): A = {self.a.describe()}; B = {self.b.describe()}"
        if self.class_names:
            line += f"; {len(self.class_names)} scene classes kept for evaluation"
        return line

    def __repr__(self) -> str:
        return f"<TwoDomainDataset {self.describe()}>"


def build_pair_dataset(
    name: str,
    *,
    root: str | None = None,
    res: int = 32,
    split: str = "train",
    seed: int = 0,
    size: int | None = None,
    narrow_b: bool = False,
) -> TwoDomainDataset:
    """Build the two-domain dataset registered as ``name`` at resolution ``res`` (16, 28, 32, 64,
    128 or 256).

    Args:
        root: pair: the directory holding trainA/ trainB/ testA/ testB/ (required); shapes-pair: ignored.
        split: "train" or "test".
        seed: shapes-pair's generator seed; pair: the seed of the ``size`` subsets.
        size: images per domain (shapes-pair: default 20000; pair: a random subset of each
            domain, default all).
        narrow_b: shapes-pair only: every B image shows its shape at one position and one size,
            to reproduce CycleGAN's collapse onto the pose of a narrow domain.

    Raises GancliError (one readable line) for anything the user can fix.
    """
    loader = PAIR_DATASETS.get(name)
    res = check_resolution(res)
    check_split(name, split, PAIR_SPLITS)
    check_size(size)
    dataset = loader(root=root, res=res, split=split, seed=seed, size=size, narrow_b=bool(narrow_b))
    dataset._rebuild = lambda other: build_pair_dataset(name, root=root, res=res, split=other, seed=seed,
                                                        size=size, narrow_b=narrow_b)
    return dataset


@PAIR_DATASETS.register("pair")
def build_folder_pair(*, root, res, split, seed, size, narrow_b) -> TwoDomainDataset:
    """The CycleGAN layout ``DIR/{trainA,trainB,testA,testB}/``, as its datasets (horse2zebra,
    monet2photo ...) ship: ``split`` reads ``DIR/<split>A`` and ``DIR/<split>B``.

    Each domain is read exactly as the ``folder`` dataset reads a flat folder: RGB, centre square
    crop, Lanczos resize to ``res``, sub-folders included (as CycleGAN's loader walks them: a
    domain has no classes); unreadable, oversized and non-image files are skipped and
    listed in that domain's ``skip_report``. A and B are independent (no pairing by name or
    order), and may hold different numbers of images.
    """
    if narrow_b:
        raise GancliError("--narrow-b only applies to the built-in shapes-pair, not to pair folders")
    if root is None:
        raise GancliError("the pair dataset needs a directory with trainA/ trainB/ testA/ testB/: --data-root DIR")
    directory = Path(root).expanduser()
    if not directory.is_dir():
        raise GancliError(f"pair directory {directory} does not exist or is not a directory")
    folders = {domain: directory / f"{split}{domain}" for domain in ("A", "B")}
    missing = [path.name for path in folders.values() if not path.is_dir()]
    if missing:
        raise GancliError(
            f"pair directory {directory} has no {' or '.join(f'{name}/' for name in missing)} "
            f"(the {split} split reads {split}A/ and {split}B/, as CycleGAN's datasets are laid out)"
        )
    domains = {}
    for domain, folder in folders.items():
        if not scan_folder(folder, flat=True)[0]:
            raise GancliError(
                f"pair directory {directory}: {folder.name} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})"
            )
        dataset = build_folder(root=str(folder), res=res, cond=False, attrs=None, split="train",
                               download=False, seed=seed, size=size, flat=True)
        dataset.name = f"pair/{folder.name}"
        domains[domain] = dataset
    return TwoDomainDataset(name="pair", split=split, a=domains["A"], b=domains["B"], source=str(directory))
