"""``cifar10``, ``mnist``, ``fashion-mnist`` through torchvision.

With ``download=True`` torchvision fetches the files and verifies their checksums. We check that
the files are present ourselves (to say exactly what is missing). MNIST's idx files are plain
arrays, read by torchvision's own classes. CIFAR-10's files are pickles, and torchvision would
unpickle them with the full unpickler (a crafted batch runs code), so we read them ourselves with
a restricted one (:mod:`gancli.data.cifar_files`). A truncated file fails while being read, and
is reported as such.

The whole array is held in uint8; it is resized to R once when the result fits in memory, else
per batch (:class:`~gancli.data.base.ArrayDataset`). At R = 28 MNIST and Fashion-MNIST keep their own
pixels (no resampling), as CIFAR-10 does at 32.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from gancli.data.base import (
    DATASETS,
    GanDataset,
    array_dataset,
    check_split,
    declare_traits,
    reject_attrs,
    subset_indices,
)
from gancli.data.cifar_files import read_cifar10
from gancli.errors import GancliError

DEFAULT_ROOT = "data"
SPLITS = ("train", "test")
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# What reading a damaged pickle / idx file raises (in torchvision or cifar_files).
READ_ERRORS = (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AssertionError, RuntimeError)


def _missing(folder: Path, names: tuple[str, ...]) -> str:
    """'' when every file is there, else a short description of what is not."""
    if not folder.is_dir():
        return f"{folder}/ does not exist"
    absent = [name for name in names if not (folder / name).is_file()]
    return f"missing: {', '.join(absent)}" if absent else ""


def _download(name: str, make, root: Path, manual: str):
    """Run torchvision's download (``make()``); any failure becomes one GancliError line."""
    try:
        return make()
    except Exception as error:  # network, checksum, archive: all end in the same advice
        raise GancliError(f"could not download {name} to {root}/: {error}; {manual}") from error


def _load_cifar10(root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """-> ``(uint8 (N, 3, 32, 32), int64 (N,), class names)``."""
    folder = root / CIFAR_FOLDER
    manual = f"or download {CIFAR_URL} and extract it in {root}/"
    if download:
        _download("cifar10", lambda: _fetch_cifar10(root), root, manual)
    missing = _missing(folder, CIFAR_FILES)
    if missing:
        raise GancliError(
            f"cifar10 not found under {root}/: expected {folder}/ with data_batch_1..5, test_batch "
            f"and batches.meta ({missing}); pass --download to fetch it, {manual}"
        )
    try:
        images, labels, classes = read_cifar10(folder, CIFAR_FILES[:5] if train else ("test_batch",))
    except READ_ERRORS as error:
        raise GancliError(
            f"could not read cifar10 from {folder}/ ({type(error).__name__}: {error}); the files look "
            "damaged: delete the folder and pass --download"
        ) from error
    return torch.from_numpy(images), torch.from_numpy(labels), classes


def _fetch_cifar10(root: Path) -> None:
    """torchvision's download and checksum check, without its reading (it unpickles unrestricted)."""
    from torchvision.datasets import CIFAR10

    class Fetcher(CIFAR10):
        def __init__(self, root: str):  # only what download() and _check_integrity() use
            self.root = root

    fetcher = Fetcher(str(root))
    fetcher.download()  # a no-op when every file is there with the right checksum
    if not fetcher._check_integrity():
        raise RuntimeError("the downloaded files do not match their checksums")


def _load_mnist_like(name: str, class_name: str, root: Path, train: bool, download: bool):
    """-> ``(uint8 (N, 1, 28, 28), int64 (N,), class names)`` for MNIST / FashionMNIST."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, class_name)
    raw = root / class_name / "raw"
    gz_names = ", ".join(file for file, _ in dataset_class.resources)
    manual = f"or download {gz_names} from {dataset_class.mirrors[0]} and gunzip them in {raw}/"
    if download:
        dataset = _download(name, lambda: dataset_class(str(root), train=train, download=True), root, manual)
    else:
        missing = _missing(raw, MNIST_FILES)
        if missing:
            raise GancliError(
                f"{name} not found under {root}/: expected {raw}/ with {', '.join(MNIST_FILES)} "
                f"({missing}); pass --download to fetch it, {manual}"
            )
        try:
            dataset = dataset_class(str(root), train=train, download=False)
        except READ_ERRORS as error:
            raise GancliError(
                f"could not read {name} from {raw}/ ({type(error).__name__}: {error}); the files look "
                "damaged: delete them and pass --download"
            ) from error
    return dataset.data.unsqueeze(1).contiguous(), dataset.targets.to(torch.int64), list(dataset.classes)


def _build(name: str, images: torch.Tensor, targets: torch.Tensor, classes: list[str], *, res, cond, seed, size):
    keep = subset_indices(len(targets), size, seed)
    if keep is not None:
        keep = torch.from_numpy(keep)
        images, targets = images[keep], targets[keep]
    labels = targets if cond else torch.zeros(len(targets), dtype=torch.int64)
    return array_dataset(source=images, res=res, name=name, label_kind="class" if cond else "none",
                         labels=labels, class_names=classes)


for _name in ("cifar10", "mnist", "fashion-mnist"):
    declare_traits(_name, downloadable=True)


@DATASETS.register("cifar10")
def build_cifar10(*, root, res, cond, attrs, split, download, seed, size) -> GanDataset:
    """CIFAR-10 from ``root/cifar-10-batches-py/`` (default root ``data``); 10 classes, RGB."""
    reject_attrs("cifar10", attrs)
    check_split("cifar10", split, SPLITS)
    root_path = Path(root if root is not None else DEFAULT_ROOT).expanduser()
    images, targets, classes = _load_cifar10(root_path, split == "train", download)
    return _build("cifar10", images, targets, classes, res=res, cond=cond, seed=seed, size=size)


def _mnist_like_builder(name: str, folder: str, title: str):
    def build(*, root, res, cond, attrs, split, download, seed, size) -> GanDataset:
        reject_attrs(name, attrs)
        check_split(name, split, SPLITS)
        root_path = Path(root if root is not None else DEFAULT_ROOT).expanduser()
        images, targets, classes = _load_mnist_like(name, folder, root_path, split == "train", download)
        return _build(name, images, targets, classes, res=res, cond=cond, seed=seed, size=size)

    build.__doc__ = f"{title} from ``root/{folder}/raw/`` (default root ``data``); 10 classes, 1 channel."
    return build


build_mnist = DATASETS.register("mnist")(_mnist_like_builder("mnist", "MNIST", "MNIST"))
build_fashion_mnist = DATASETS.register("fashion-mnist")(
    _mnist_like_builder("fashion-mnist", "FashionMNIST", "Fashion-MNIST"))
