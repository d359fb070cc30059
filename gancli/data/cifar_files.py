"""Reading CIFAR-10's pickled batches without letting the file run code.

The python version of CIFAR-10 is a set of pickles (``data_batch_1..5``, ``test_batch``,
``batches.meta``) written by Python 2. ``pickle.load`` would call whatever function a file names,
so a crafted ``data_batch_1`` could run ``os.system`` the moment it is read. We unpickle with
:class:`CifarUnpickler`, whose ``find_class`` hands out only what these files contain: numpy's
array reconstruction (``numpy.ndarray``, ``numpy.dtype``, ``_reconstruct``) and ``_codecs.encode``
restricted to latin-1 (how a Python 3 protocol-2 pickle stores bytes). Anything else is refused
before it is called.
"""
from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path

import numpy as np

from gancli.errors import GancliError

# numpy's array reconstructor under every name a pickle may use for it: numpy 1 wrote
# numpy.core.multiarray (so did Python 2, in the real files), numpy 2 writes numpy._core.multiarray.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]
_OS_MODULES = {"posix": "os", "nt": "os"}  # os.system pickles as posix.system: name it as written


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, and nothing else."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a function or class outside :data:`ALLOWED_GLOBALS`."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{_OS_MODULES.get(module, module)}.{name}")
        self.qualified_name = str(self)


class CifarUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`; Python 2 strings are
    decoded as latin-1 (as torchvision does), so dict keys come back as ``str``."""

    def __init__(self, file):
        super().__init__(file, encoding="latin1")

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(module, name) from None


def load_pickle(path: Path) -> object:
    """Unpickle ``path`` with :class:`CifarUnpickler`. A forbidden global becomes one GancliError
    line naming the file and the global; a damaged file raises what ``pickle`` raises."""
    try:
        return CifarUnpickler(io.BytesIO(Path(path).read_bytes())).load()
    except ForbiddenGlobal as refused:
        raise GancliError(
            f"refusing to load {path}: it asks for {refused.qualified_name}, which a CIFAR-10 file never "
            "contains (a crafted or foreign file); delete it and pass --download"
        ) from None


def read_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """One batch -> ``(uint8 (n, 3072) channel-major rows, n labels in 0..9)``; ValueError when
    the pickle holds something else."""
    entry = load_pickle(path)
    if not isinstance(entry, dict) or "data" not in entry or "labels" not in entry:
        raise ValueError(f"{Path(path).name} is not a dict with 'data' and 'labels'")
    data, labels = entry["data"], entry["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{Path(path).name}: 'data' must be uint8 (n, 3072)")
    if not isinstance(labels, list) or len(labels) != len(data) or not all(
            isinstance(label, int) and 0 <= label < 10 for label in labels):
        raise ValueError(f"{Path(path).name}: 'labels' must be {len(data)} ints in 0..9")
    return data, labels


def read_class_names(path: Path) -> list[str]:
    """``batches.meta`` -> its ``label_names`` (10 strings)."""
    meta = load_pickle(path)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 10 or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{Path(path).name}: 'label_names' must be 10 strings")
    return names


def read_cifar10(folder: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The batches ``names`` under ``folder`` -> ``(uint8 (N, 3, 32, 32), int64 (N,), class names)``."""
    batches = [read_batch(Path(folder) / name) for name in names]
    images = np.concatenate([data for data, _ in batches]).reshape(-1, 3, 32, 32)
    labels = np.array([label for _, batch_labels in batches for label in batch_labels], dtype=np.int64)
    return images, labels, read_class_names(Path(folder) / "batches.meta")
