"""Tiny fake datasets written in the real on-disk formats, for driving the real loaders.

Each ``write_fake_*`` function writes files under a directory and returns what a loader should
read back (pixel arrays, labels, names), so tests can compare values exactly. The fixtures at the
bottom wrap them with ``tmp_path``; other test packages can reuse them with

    from tests.data.fake_datasets import fake_cifar_root, write_fake_cifar10  # noqa: F401
"""
from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CIFAR_CLASSES = ["apple", "bus", "cloud", "dolphin", "elephant", "forest", "girl", "house", "island", "jeep"]

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()


@dataclass
class FakeArrays:
    """What an array dataset (cifar10 / mnist) holds: uint8 (N, C, H, W) and int64 (N,) per split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str] = field(default_factory=list)


def write_fake_cifar10(root: Path, per_batch: int = 4, n_test: int = 6, seed: int = 0) -> FakeArrays:
    """``root/cifar-10-batches-py/`` with data_batch_1..5, test_batch and batches.meta, pickled
    exactly as the real ones are: {"data": uint8 (n, 3072) channel-major rows, "labels": [...]}."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def write_batch(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        entry = {
            "batch_label": f"fake {name}",
            "labels": [int(label) for label in labels],
            "data": images.reshape(n, 3072),
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(entry, handle, protocol=2)
        return images, labels.astype(np.int64)

    batches = [write_batch(f"data_batch_{i}", per_batch) for i in range(1, 6)]
    test_images, test_labels = write_batch("test_batch", n_test)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}, handle, protocol=2)
    return FakeArrays(
        train_images=np.concatenate([images for images, _ in batches]),
        train_labels=np.concatenate([labels for _, labels in batches]),
        test_images=test_images,
        test_labels=test_labels,
        classes=CIFAR_CLASSES,
    )


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: magic 0x00 0x00 0x08 ndim (uint8 data), big-endian int32 dims, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_fake_mnist(root: Path, folder_name: str = "MNIST", n_train: int = 12, n_test: int = 5,
                     seed: int = 0) -> FakeArrays:
    """``root/<folder_name>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (uncompressed).

    Image i is constant at a random grey, except its left 14 columns which are white, so a
    resize must keep a bright left half and the grey right half.
    """
    rng = np.random.default_rng(seed)
    raw = Path(root) / folder_name / "raw"
    raw.mkdir(parents=True, exist_ok=True)

    def write(prefix: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        greys = rng.integers(0, 128, size=n, dtype=np.uint8)
        images = np.broadcast_to(greys[:, None, None], (n, 28, 28)).copy()
        images[:, :, :14] = 255
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        return images[:, None], labels.astype(np.int64)

    train_images, train_labels = write("train", n_train)
    test_images, test_labels = write("t10k", n_test)
    return FakeArrays(train_images, train_labels, test_images, test_labels)


@dataclass
class FakeCelebA:
    """base: the folder holding img_align_celeba/; files: image names in attribute-file order;
    attributes: int8 (N, 40) of -1/1; partition: 0/1/2 per file; colours: uint8 (N, 3), the colour
    of each image's centre 178x178 square (the bands above and below are other colours)."""

    base: Path
    files: list[str]
    attributes: np.ndarray
    partition: np.ndarray
    colours: np.ndarray


def write_fake_celeba(root: Path, layout: str = "torchvision", partition=(0, 0, 0, 1, 2, 2),
                      seed: int = 0) -> FakeCelebA:
    """A CelebA with ``len(partition)`` aligned-size (178x218) images.

    layout "torchvision": root/celeba/...; "plain": directly under root. Each image is a solid
    colour in its centre 178x178 square, with 20-px bands of two other colours above and below
    (exactly what the 178 centre crop removes). The attribute file mimics the real spacing
    (two spaces before positive values).
    """
    rng = np.random.default_rng(seed)
    base = Path(root) / "celeba" if layout == "torchvision" else Path(root)
    images = base / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    n = len(partition)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    colours = rng.integers(40, 216, size=(n, 3), dtype=np.uint8)
    for name, colour in zip(files, colours):
        pixels = np.empty((218, 178, 3), dtype=np.uint8)
        pixels[:] = colour
        pixels[:20] = 255 - colour  # the bands the crop must cut away
        pixels[198:] = (0, 0, 0) if colour.mean() > 128 else (255, 255, 255)
        Image.fromarray(pixels).save(images / name, quality=95, subsampling=0)
    attributes = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, len(CELEBA_ATTRIBUTES)))
    rows = [name + " " + " ".join(f"{value:2d}" for value in row) for name, row in zip(files, attributes)]
    (base / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "\n".join(rows) + "\n")
    (base / "list_eval_partition.txt").write_text("".join(f"{name} {part}\n" for name, part in zip(files, partition)))
    return FakeCelebA(base, files, attributes, np.array(partition), colours)


@dataclass
class FakeFolder:
    """root; classes: sorted class names ([] when flat); colours: {class name or "": RGB};
    n_images: readable images written; n_skippable: corrupt + non-image files written."""

    root: Path
    classes: list[str]
    colours: dict[str, tuple[int, int, int]]
    n_images: int
    n_skippable: int


def write_fake_folder(root: Path, classes: tuple[str, ...] = ("cat", "dog", "owl"), per_class: int = 4,
                      junk: bool = True) -> FakeFolder:
    """Images of one solid colour per class, in assorted formats and aspect ratios.

    Wide images get side bands of another colour that the centre square crop must remove.
    With ``junk``, adds a corrupt ``broken.png`` and a ``notes.txt`` (both must be skipped), plus
    a hidden ``.DS_Store`` that is ignored without being counted. ``classes=()``: a flat folder.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    palette = [(200, 30, 30), (30, 160, 40), (40, 60, 220), (230, 200, 20)]
    formats = [("png", {}), ("bmp", {}), ("webp", {"lossless": True}), ("gif", {})]
    names = list(classes) or [""]
    colours = {}
    for class_index, name in enumerate(names):
        folder = root / name
        folder.mkdir(exist_ok=True)
        colour = palette[class_index % len(palette)]
        colours[name] = colour
        for i in range(per_class):
            extension, options = formats[i % len(formats)]
            width = 40 if i % 2 else 24  # 40x24: 8-px bands left and right of the centre square
            pixels = np.empty((24, width, 3), dtype=np.uint8)
            pixels[:] = colour
            if width > 24:
                pixels[:, :8] = pixels[:, -8:] = (255, 255, 255)
            Image.fromarray(pixels).save(folder / f"img{i}.{extension}", **options)
    n_skippable = 0
    if junk:
        junk_dir = root / names[-1]
        (junk_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
        (junk_dir / "notes.txt").write_text("labels are folder names\n")
        (junk_dir / ".DS_Store").write_bytes(b"\x00\x01")
        n_skippable = 2
    return FakeFolder(root, sorted(classes), colours, len(names) * per_class, n_skippable)


@pytest.fixture
def fake_cifar_root(tmp_path) -> tuple[Path, FakeArrays]:
    return tmp_path, write_fake_cifar10(tmp_path)


@pytest.fixture
def fake_mnist_root(tmp_path) -> tuple[Path, FakeArrays]:
    return tmp_path, write_fake_mnist(tmp_path)


@pytest.fixture
def fake_celeba_root(tmp_path) -> tuple[Path, FakeCelebA]:
    return tmp_path, write_fake_celeba(tmp_path)


@pytest.fixture
def fake_folder(tmp_path) -> FakeFolder:
    return write_fake_folder(tmp_path / "images")


@pytest.fixture
def fake_flat_folder(tmp_path) -> FakeFolder:
    return write_fake_folder(tmp_path / "flat", classes=())
