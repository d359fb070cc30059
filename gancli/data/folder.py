"""``folder``: any directory of images.

Layouts:
    ROOT/*.png ...                 flat: unlabelled
    ROOT/<class>/**/*.jpg ...      one sub-folder per class: class-conditional, classes sorted by name

Images are converted to RGB, centre-cropped to a square and resized to R. Files that are not
images, fail to decode or declare too many pixels are skipped, and listed by reason in the
dataset's ``skip_report`` (which ``describe()`` ends with), so that none goes missing silently.
Up to IN_MEMORY_MAX_IMAGES images are decoded once and kept in memory; larger folders get a cheap
header check up front and are decoded per item.
"""
from __future__ import annotations

from pathlib import Path

import torch

from gancli.data.base import (
    DATASETS,
    NOT_AN_IMAGE,
    GanDataset,
    SkipReport,
    check_split,
    in_memory_budget,
    reject_attrs,
    subset_indices,
)
from gancli.data.image_files import (
    IMAGE_EXTENSIONS,
    ImageFileDataset,
    check_all,
    decode_all,
    is_image_name,
)
from gancli.errors import GancliError


def _visible_files(directory: Path, recursive: bool) -> list[Path]:
    """Regular, non-hidden files, sorted (hidden ones such as .DS_Store are ignored outright)."""
    pattern = directory.rglob("*") if recursive else directory.iterdir()
    files = [
        path for path in pattern
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    ]
    return sorted(files)


def scan_folder(root: Path, flat: bool = False) -> tuple[list[Path], list[int], list[str], list[Path]]:
    """List candidate images -> ``(paths, class index per path, class names, files left out)``.

    Class mode when at least one sub-folder holds an image-named file; then loose files at the
    top level are not part of any class and are left out. Flat mode: class index 0 for all and
    class names []. Files in sub-folders that hold no image are left out in both modes.
    ``flat=True`` (a domain of CycleGAN's layout): every image under ``root``, sub-folders included,
    as CycleGAN's own loader walks them.
    """
    if flat:
        files = _visible_files(root, recursive=True)
        images = [path for path in files if is_image_name(path)]
        return images, [0] * len(images), [], [path for path in files if not is_image_name(path)]
    sub_folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_folder = {folder.name: _visible_files(folder, recursive=True) for folder in sub_folders}
    per_class = {name: files for name, files in per_folder.items() if any(map(is_image_name, files))}
    left_out = [path for name, files in per_folder.items() if name not in per_class for path in files]
    top_level = _visible_files(root, recursive=False)
    if not per_class:
        images = [path for path in top_level if is_image_name(path)]
        return images, [0] * len(images), [], [path for path in top_level if not is_image_name(path)] + left_out
    paths, classes, left_out = [], [], top_level + left_out
    for class_index, (name, files) in enumerate(per_class.items()):
        images = [path for path in files if is_image_name(path)]
        paths += images
        classes += [class_index] * len(images)
        left_out += [path for path in files if not is_image_name(path)]
    return paths, classes, list(per_class), left_out


@DATASETS.register("folder")
def build_folder(*, root, res, cond, attrs, split, download, seed, size, flat: bool = False) -> GanDataset:
    """A folder of images; ``split`` may be "train" or "all" (both: every image). ``flat``: one set of
    images, sub-folders included, never classes (``scan_folder``)."""
    reject_attrs("folder", attrs)
    check_split("folder", split, ("train", "all"))
    if root is None:
        raise GancliError("the folder dataset needs a directory of images: gancli train folder DIR (or --data-root DIR)")
    directory = Path(root).expanduser()
    if not directory.is_dir():
        raise GancliError(f"image folder {directory} does not exist or is not a directory")
    paths, classes, class_names, left_out = scan_folder(directory, flat=flat)
    report = SkipReport()
    report.add(NOT_AN_IMAGE, [path.relative_to(directory).as_posix() for path in left_out])
    if cond and not class_names:
        raise GancliError(
            f"--cond needs labelled data, but folder {directory} has no class sub-folders "
            "(put each class in its own sub-folder)"
        )
    if not paths:
        raise GancliError(
            f"image folder {directory} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)}"
            + (f"; {len(left_out)} other files ignored)" if left_out else ")")
        )
    keep = subset_indices(len(paths), size, seed)
    if keep is not None:
        paths, classes = [paths[i] for i in keep], [classes[i] for i in keep]

    if in_memory_budget(len(paths), 3, res):
        decoded = decode_all(paths, res)
        problems = [None if isinstance(image, torch.Tensor) else image for image in decoded]
    else:
        decoded, problems = None, check_all(paths)
    readable = [i for i, problem in enumerate(problems) if problem is None]
    for path, problem in zip(paths, problems):
        if problem is not None:
            report.add(problem, path.relative_to(directory).as_posix())
    if not readable:
        raise GancliError(
            f"no readable images in {directory}: all {len(paths)} image files failed to decode ({report.details()})"
        )
    images = torch.stack([decoded[i] for i in readable]) if decoded is not None else None
    labels, class_names = _labels(cond, [classes[i] for i in readable], class_names)
    common = dict(name="folder", resolution=res, label_kind="class" if cond else "none",
                  labels=labels, class_names=class_names, skipped=report)
    if images is not None:
        return GanDataset(images=images, channels=3, **common)
    return ImageFileDataset(paths=[paths[i] for i in readable], **common)


def _labels(cond: bool, classes: list[int], class_names: list[str]) -> tuple[torch.Tensor, list[str]]:
    """int64 labels (zeros without ``cond``); classes left with no readable image are dropped
    and the rest renumbered, so that every class the model sees has examples."""
    if not cond:
        return torch.zeros(len(classes), dtype=torch.int64), []
    present = sorted(set(classes))
    renumber = {old: new for new, old in enumerate(present)}
    labels = torch.tensor([renumber[c] for c in classes], dtype=torch.int64)
    return labels, [class_names[c] for c in present]
