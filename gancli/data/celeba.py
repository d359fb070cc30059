"""``celeba``: aligned CelebA faces from local files, decoded per item.

Two layouts are accepted (the first that is complete wins):
    ROOT/celeba/img_align_celeba/*.jpg + ROOT/celeba/list_attr_celeba.txt + list_eval_partition.txt
    ROOT/img_align_celeba/*.jpg        + ROOT/list_attr_celeba.txt        + ROOT/list_eval_partition.txt

The text files are parsed here (no torchvision integrity checks, no pandas). Each 178x218 image
is centre-cropped to 178x178 and resized to R with Lanczos. With ``cond`` the labels are the 40
binary attributes (or the subset named by ``attrs``) as a float32 multi-hot ``(N, k)``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gancli.data.base import DATASETS, MISSING, GanDataset, SkipReport, check_split, declare_traits, subset_indices
from gancli.data.image_files import ImageFileDataset
from gancli.errors import GancliError
from gancli.registry import match_names

DEFAULT_ROOT = "data"
IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
CROP = 178
SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
CELEBA_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def find_celeba(root: Path) -> Path | None:
    """The folder holding img_align_celeba/ and both text files: ROOT/celeba or ROOT, else None."""
    for base in (root / "celeba", root):
        if (base / IMAGE_DIR).is_dir() and (base / ATTR_FILE).is_file() and (base / PARTITION_FILE).is_file():
            return base
    return None


def missing_message(root: Path) -> str:
    base = root / "celeba"
    present = [p for p in (base, root) if (p / IMAGE_DIR).is_dir() or (p / ATTR_FILE).is_file()
               or (p / PARTITION_FILE).is_file()]
    where = present[0] if present else base
    missing = [name + "/" for name in (IMAGE_DIR,) if not (where / name).is_dir()]
    missing += [name for name in (ATTR_FILE, PARTITION_FILE) if not (where / name).is_file()]
    unzip = ""
    if (where / f"{IMAGE_DIR}.zip").is_file() and not (where / IMAGE_DIR).is_dir():
        unzip = f" ({where}/{IMAGE_DIR}.zip is there: unzip it in {where}/)"
    return (
        f"celeba not found under {root}/: expected {base}/{IMAGE_DIR}/ (the aligned .jpg faces), "
        f"{base}/{ATTR_FILE} and {base}/{PARTITION_FILE} (or the same three directly under {root}/); "
        f"missing in {where}/: {', '.join(missing)}{unzip}. torchvision's automatic download often "
        f"fails (Google Drive quota), so fetch them by hand: download {IMAGE_DIR}.zip, {ATTR_FILE} and "
        f"{PARTITION_FILE} from {CELEBA_PAGE} and unpack them under {base}/"
    )


def parse_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """list_attr_celeba.txt -> ``(attribute names, file names, bool (N, k): attribute present)``.

    Line 1: the image count; line 2: k attribute names; then ``filename v1 ... vk`` with -1 / 1
    (0 is read as absent too).
    """
    lines = [line for line in _read_text(path).splitlines() if line.strip()]
    if len(lines) < 2:
        raise GancliError(f"{path} is too short: expected a count line and a line of attribute names")
    names = lines[1].split()
    rows = [line.split(None, 1) for line in lines[2:]]
    files = [row[0] for row in rows]
    # Each row's values squeezed into k characters of 0/1, parsed for all rows in one go: about
    # 20x faster than converting 8 million tokens one by one.
    compact = ["".join(row[1].split()).replace("-1", "0") if len(row) == 2 else "" for row in rows]
    bad = next((n for n, values in enumerate(compact, start=3)
                if len(values) != len(names) or values.strip("01")), None)
    if bad is not None:
        raise GancliError(f"{path} line {bad}: expected a file name and {len(names)} values of -1 or 1")
    flat = np.frombuffer("".join(compact).encode("ascii"), dtype=np.uint8)
    return names, files, (flat == ord("1")).reshape(len(rows), len(names))


def parse_partition(path: Path) -> dict[str, int]:
    """list_eval_partition.txt -> ``{filename: 0 train | 1 valid | 2 test}``."""
    partition = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise GancliError(f"{path} line {number}: expected 'filename 0|1|2', got {line.strip()[:80]!r}")
        partition[fields[0]] = int(fields[1])
    return partition


def _read_text(path: Path) -> str:
    """The file as text (the CelebA lists are ASCII); a binary file is one GancliError line, not a
    UnicodeDecodeError traceback."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise GancliError(f"{path} is not a text file (byte {error.start} is not UTF-8); is it the CelebA list?") from None


def _select_attributes(names: list[str], attrs: list[str] | None) -> list[int]:
    """Column indices of ``attrs`` (matched ignoring case; unknown ones get the closest names)."""
    if not attrs:
        return list(range(len(names)))
    return [names.index(name) for name in match_names(attrs, names, "CelebA attribute")]


def _download(root: Path) -> None:
    from torchvision.datasets import CelebA

    try:
        CelebA(str(root), split="all", target_type=[], download=True)
    except Exception as error:  # gdown missing, Drive quota, checksum: same advice for all
        raise GancliError(
            f"torchvision could not download CelebA ({type(error).__name__}: {error}). "
            + missing_message(root)
        ) from error


declare_traits("celeba", class_labels=False, downloadable=True)  # 40 binary attributes, not classes


@DATASETS.register("celeba")
def build_celeba(*, root, res, cond, attrs, split, download, seed, size) -> GanDataset:
    """CelebA faces; ``split`` is train / valid / test / all (list_eval_partition.txt 0 / 1 / 2)."""
    check_split("celeba", split, tuple(SPLITS))
    if attrs and not cond:
        raise GancliError("--attrs chooses the attributes to condition on; pass --cond with it")
    root_path = Path(root if root is not None else DEFAULT_ROOT).expanduser()
    base = find_celeba(root_path)
    if base is None and download:
        _download(root_path)
        base = find_celeba(root_path)
    if base is None:
        raise GancliError(missing_message(root_path))

    names, files, values = parse_attributes(base / ATTR_FILE)
    columns = _select_attributes(names, attrs) if cond else []
    partition = parse_partition(base / PARTITION_FILE)
    wanted = SPLITS[split]
    rows = [i for i, file in enumerate(files) if wanted is None or partition.get(file) == wanted]
    # One directory listing is far cheaper than a stat per file (202,599 of them).
    on_disk = set(os.listdir(base / IMAGE_DIR))
    present = [i for i in rows if files[i] in on_disk]
    report = SkipReport()
    report.add(MISSING, [files[i] for i in rows if files[i] not in on_disk])
    if not present:
        raise GancliError(
            f"celeba split '{split}' has no images in {base / IMAGE_DIR}/"
            + (f" ({report.total} listed files are missing)" if report.total else "")
        )
    keep = subset_indices(len(present), size, seed)
    if keep is not None:
        present = [present[i] for i in keep]
    if cond:
        labels = torch.from_numpy(values[present][:, columns].astype(np.float32))
    else:
        labels = torch.zeros(len(present), dtype=torch.int64)
    return ImageFileDataset(
        paths=[base / IMAGE_DIR / files[i] for i in present], crop=CROP, name="celeba", resolution=res,
        label_kind="attrs" if cond else "none", labels=labels,
        attr_names=[names[c] for c in columns], skipped=report,
    )
