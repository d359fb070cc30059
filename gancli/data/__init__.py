"""Datasets by name: ``shapes`` (built in, the default), ``folder``, ``cifar10``, ``mnist``,
``fashion-mnist``, ``celeba``.

>>> ds = build_dataset("shapes", res=32, cond=True)
>>> ds.describe()
'shapes: 20000 images, 32x32 RGB, 8 classes (circle, square, triangle, ring, plus, circle-pair, triangle-pair, stripes), in memory'
>>> images, labels = ds.get_batch(torch.arange(64))   # float32 (64, 3, 32, 32) in [-1, 1], int64 (64,)

The dataset tells the model its shape: ``resolution``, ``channels``, ``label_kind``,
``n_classes`` and ``attr_names`` flow from here to the networks.
"""
from __future__ import annotations

from gancli.data.base import (DATASETS, VALID_RESOLUTIONS, DatasetTraits, GanDataset, check_resolution, downloadable,
                              traits_of)

# Imported for their @DATASETS.register side effect; the order is the order --help lists.
from gancli.data import shapes as _shapes  # noqa: F401  (first: the default)
from gancli.data import folder as _folder  # noqa: F401
from gancli.data import torchvision_sets as _torchvision_sets  # noqa: F401
from gancli.data import celeba as _celeba  # noqa: F401
from gancli.data.shapes import SHAPE_CLASSES
from gancli.config import dataset_seed
from gancli.errors import GancliError

__all__ = ["DATASETS", "DatasetTraits", "GanDataset", "SHAPE_CLASSES", "VALID_RESOLUTIONS", "build_dataset", "downloadable", "run_dataset",
           "traits_of"]


def build_dataset(
    name: str,
    *,
    root: str | None = None,
    res: int = 32,
    cond: bool = False,
    attrs: list[str] | None = None,
    split: str = "train",
    download: bool = False,
    seed: int = 0,
    size: int | None = None,
) -> GanDataset:
    """Build the dataset registered as ``name`` at resolution ``res`` (16, 28, 32, 64, 128 or 256).

    Args:
        root: where the files are (folder: required; cifar10/mnist/fashion-mnist/celeba: default
            ``data``; shapes: ignored).
        cond: keep the labels (classes, or CelebA attributes); without it label_kind is "none".
        attrs: CelebA attribute names to condition on (needs ``cond``); None: all 40.
        split: "train" / "test" (cifar10, mnist, fashion-mnist, shapes), "train" / "valid" /
            "test" / "all" (celeba), "train" / "all" (folder).
        download: let torchvision fetch missing files (cifar10, mnist, fashion-mnist, celeba).
        seed: shapes' generator seed, and the seed of the ``size`` subset elsewhere.
        size: number of images (shapes: default 20000; others: a random subset, default all).

    Raises GancliError (one readable line) for anything the user can fix.
    """
    loader = DATASETS.get(name)
    res = check_resolution(res)
    return loader(root=root, res=res, cond=cond, attrs=list(attrs) if attrs else None, split=split,
                  download=download, seed=seed, size=size)


def run_dataset(train_config: dict, res: int, cond: bool = False) -> GanDataset:
    """The dataset a run trained on, rebuilt from the train config its checkpoint saved (name,
    root, split, subset size and seed), at resolution ``res``. Raises GancliError when the config
    names no dataset or the data cannot be read."""

    name = train_config.get("dataset")
    if not name:
        raise GancliError("this checkpoint does not say what it was trained on")
    return build_dataset(name, root=train_config.get("data_root"), res=res, cond=cond,
                         attrs=train_config.get("attrs") if cond else None, split=train_config.get("split", "train"),
                         seed=dataset_seed(train_config), size=train_config.get("data_size"))

# Two-domain datasets (unpaired translation, CycleGAN): their own registry, PAIR_DATASETS.
from gancli.data.pairs import PAIR_DATASETS, TwoDomainDataset, build_pair_dataset  # noqa: E402
from gancli.data import shapes_pair as _shapes_pair  # noqa: E402,F401  (registers shapes-pair)

__all__ += ["PAIR_DATASETS", "TwoDomainDataset", "build_pair_dataset"]
