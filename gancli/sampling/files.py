"""Output files of ``gancli sample``: the grid PNG, the streamed .npz, one PNG per image.

Nothing here holds all n images: ``sample_to_files`` writes each batch to the .npz and the PNG
folder before the next is made; both appear only when complete (temp file / folder + rename).
Also the rule that names a command's picture when no ``--out`` is given (``default_output``).
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import zipfile
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from gancli.checkpoint import atomic_write_bytes, usual_mode
from gancli.config import SampleRequest
from gancli.errors import GancliError
from gancli.sampling.generate import LoadedGenerator, Samples, _Collector, iter_samples, plan_samples
from gancli.viz.grid import display_scale, grid_size, save_gif, save_png, tile, upscale
from gancli.viz.labels import Cells, annotate



MAX_GRID_IMAGES = 4096  # 64 x 64 thumbnails: more is not a picture anyone looks at


MAX_GRID_SIDE = 16384  # pixels; also keeps the grid under PIL's decompression-bomb limit (89.5M pixels)


MAX_GRID_PIXELS = 89_478_485  # PIL's Image.MAX_IMAGE_PIXELS: larger PNGs open with a warning, or not at all


def check_grid(n_images: int, nrow: int, height: int, width: int, scale: int = 1) -> None:
    """Refuses, before anything is generated, a grid too large to be a picture (at ``scale``)."""
    if not _too_large(n_images, nrow, height, width, scale):
        return
    grid_h, grid_w = (side * scale for side in grid_size(n_images, nrow, height, width))
    if scale > 1 and not _too_large(n_images, nrow, height, width, 1):
        raise GancliError(f"--scale {scale} makes the grid {grid_w}x{grid_h} px, more than a picture may be "
                          f"(at most {MAX_GRID_SIDE} px a side); lower --scale")
    raise GancliError(f"a grid of {n_images} images ({grid_w}x{grid_h} px) is too large to be a picture "
                      f"(at most {MAX_GRID_IMAGES} images, {MAX_GRID_SIDE} px a side); "
                      "write them with --npz or --individual instead of a grid, or lower -n")


def _too_large(n_images: int, nrow: int, height: int, width: int, scale: int) -> bool:
    grid_h, grid_w = (side * scale for side in grid_size(n_images, nrow, height, width))
    return n_images > MAX_GRID_IMAGES or max(grid_h, grid_w) > MAX_GRID_SIDE or grid_h * grid_w > MAX_GRID_PIXELS


def grid_scale(scale: int | None, n_images: int, nrow: int, height: int, width: int) -> int:
    """The upscale factor of a grid: ``scale`` when given (checked), else ``display_scale`` of the
    tile, lowered until the grid fits the limits of ``check_grid``."""
    if scale is not None:
        if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
            raise GancliError(f"--scale must be a positive whole number, got {scale!r}")
        check_grid(n_images, nrow, height, width, scale)
        return scale
    check_grid(n_images, nrow, height, width)
    chosen = display_scale(min(height, width))
    while chosen > 1 and _too_large(n_images, nrow, height, width, chosen):
        chosen -= 1
    return chosen


def check_writable(path: Path, is_dir: bool = False) -> None:
    """Fails early (before any image is made) if ``path`` cannot be written."""
    path = Path(path)
    if is_dir:
        if path.exists() and not path.is_dir():
            raise GancliError(f"cannot write images into {path}: it is a file")
        probe = path if path.exists() else _existing_parent(path)
    else:
        if path.is_dir():
            raise GancliError(f"cannot write {path}: it is a directory")
        probe = _existing_parent(path)
        if path.exists() and not _writable(path):
            raise GancliError(f"cannot write {path}: permission denied")
    if not probe.is_dir():
        raise GancliError(f"cannot write {path}: {probe} is not a directory")
    if not _writable(probe):
        raise GancliError(f"cannot write {path}: {probe} is not writable")


def _existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    return parent


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


class NpzWriter:
    """Writes, a batch at a time, the .npz that ``np.savez(file, images=..., labels=...)`` would write
    for all N images: ``numpy.load`` reads ``images`` uint8 (N, H, W, C) and, when labels are given,
    ``labels``. N is known up front, so each member's .npy header (with the final shape) goes first,
    then each batch's raw bytes in C order. A zip member is written in one go, so labels (a few bytes
    an image) wait in a temporary file and follow the images. ``file``: a binary file open for writing."""

    def __init__(self, file, n_images: int):
        self.zip = zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self.n_images, self.written = n_images, 0
        self.images = None  # the open images.npy member, after the first batch
        self.labels = None  # the spooled labels' bytes
        self.label_dtype, self.label_shape = None, None

    def add(self, images: np.ndarray, labels: np.ndarray | None = None) -> None:
        if self.images is None:
            self.image_shape, self.image_dtype = images.shape[1:], images.dtype
            self.images = self.zip.open("images.npy", "w", force_zip64=True)
            _write_npy_header(self.images, (self.n_images, *self.image_shape), self.image_dtype)
            if labels is not None:
                self.label_shape, self.label_dtype = labels.shape[1:], labels.dtype
                self.labels = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        if images.shape[1:] != self.image_shape or images.dtype != self.image_dtype:
            raise ValueError(f"batch of {images.dtype} {images.shape[1:]} after {self.image_dtype} {self.image_shape}")
        if self.written + len(images) > self.n_images:
            raise ValueError(f"more than the {self.n_images} images announced")
        if (labels is None) != (self.labels is None) or (
                labels is not None and (labels.shape[1:] != self.label_shape or labels.dtype != self.label_dtype)):
            raise ValueError("labels change from one batch to the next")
        self.images.write(np.ascontiguousarray(images).data)
        if labels is not None:
            self.labels.write(np.ascontiguousarray(labels).data)
        self.written += len(images)

    def __enter__(self) -> NpzWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # let go of the file unfinished (the caller deletes it)
            for part in (self.labels, self.images, self.zip):
                if part is not None:
                    with suppress(Exception):
                        part.close()

    def close(self) -> None:
        if self.written != self.n_images:
            raise ValueError(f"{self.written} images written, {self.n_images} announced")
        self.images.close()
        if self.labels is not None:
            with self.zip.open("labels.npy", "w", force_zip64=True) as member:
                _write_npy_header(member, (self.n_images, *self.label_shape), self.label_dtype)
                self.labels.seek(0)
                shutil.copyfileobj(self.labels, member, 1 << 20)
            self.labels.close()
        self.zip.close()


def _write_npy_header(member, shape: tuple[int, ...], dtype: np.dtype) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(member, header)  # the version np.save picks for such short headers


def save_npz(path: Path, samples: Samples) -> Path:
    """``images`` uint8 (N, H, W, C) and, for conditional models, ``labels`` (the layout FID tools read)."""
    arrays = {"images": samples.images.numpy()}
    if samples.labels is not None:
        arrays["labels"] = samples.labels.numpy()
    atomic_write_bytes(Path(path), lambda f: np.savez(f, **arrays))
    return Path(path)


def save_individual(folder: Path, samples: Samples) -> list[Path]:

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = _name_width(len(samples.images))
    return [save_png(img.numpy(), folder / f"{i:0{width}d}.png") for i, img in enumerate(samples.images)]


def _name_width(n_images: int) -> int:
    return max(4, len(str(n_images - 1)))


@contextmanager
def _staged_folder(folder: Path) -> Iterator[Path]:
    """A new folder beside ``folder`` to fill; renamed to ``folder`` (new or empty) when the block ends
    without error, removed when it fails, so a failure leaves no half-written folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield staging
        os.chmod(staging, usual_mode(directory=True))  # mkdtemp makes 0700
        os.replace(staging, folder)  # an empty folder is replaced; a non-empty one fails
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise



def grid_picture(samples: Samples, labels: bool = True, scale: int = 1) -> np.ndarray:
    """The grid PNG's pixels: the images tiled ``samples.nrow`` to a row, each pixel a ``scale`` x
    ``scale`` block, and with ``labels`` the margins naming the rows and the whole (``samples.row_labels``,
    ``samples.title``)."""
    n, h, w = samples.images.shape[:3]
    grid = upscale(tile(samples.images, nrow=samples.nrow), scale)
    if not labels:
        return grid
    cells = Cells(-(-n // samples.nrow), samples.nrow, h * scale, w * scale, 2 * scale)
    return annotate(grid, cells, rows=samples.row_labels, title=samples.title)


def save_grid_png(path: Path, samples: Samples, labels: bool = True, scale: int = 1) -> Path:
    return save_png(grid_picture(samples, labels, scale), path)


def interpolation_frames(samples: Samples, labels: bool = True, scale: int = 1) -> list[np.ndarray]:
    """The GIF of an interpolation: one frame per step (all walks side by side), there and back
    again; with ``labels`` each frame says its step."""
    steps = len(samples.frames)
    frames = [upscale(frame, scale) for frame in samples.frames]
    if labels:
        h, w = samples.images.shape[1:3]
        cells = Cells(1, 1, h * scale, w * scale, 2 * scale)
        frames = [annotate(frame, cells, title=f"step {s + 1} of {steps}") for s, frame in enumerate(frames)]
    return frames + frames[-2:0:-1]


@dataclass
class SampleOutputs:
    n_images: int = 0
    image_size: tuple[int, int] = (0, 0)  # (H, W)
    grid: Path | None = None  # --out
    npz: Path | None = None  # --npz
    individual: Path | None = None  # --individual DIR
    gif: Path | None = None  # --interp: the animation beside the grid
    samples: Samples | None = None  # the images in memory, when a grid was made; None when only streamed


def sample_to_files(gen: LoadedGenerator, req: SampleRequest, out: Path | None, npz: Path | None = None,
                    individual: Path | None = None, labels: bool = True, scale: int | None = None) -> SampleOutputs:
    """Checks every destination and the request first (so bad input writes nothing), then makes the
    images a batch at a time: each batch goes to the .npz and to one PNG per image, then is dropped, so
    memory does not grow with n. Only the grid PNG ``out`` (and with ``interp`` a GIF beside it) keeps
    the images, and a grid larger than ``check_grid`` allows is refused up front. The .npz and the
    folder appear only when complete (written beside, then renamed).

    The grid (not the .npz or the folder, which hold the generator's pixels) is upscaled by
    ``scale`` (default: small tiles to about 64 px, ``grid_scale``) and with ``labels`` names its
    rows and what the whole grid shows in a white margin."""
    if out is None and npz is None and individual is None:
        raise GancliError("nothing to write: give --out, --npz or --individual")
    for path in (out, npz):
        if path is not None:
            check_writable(path)
    if out is not None and Path(out).suffix.lower() != ".png":
        raise GancliError(f"--out {out}: the grid is a PNG; give a .png path")
    gif = out.with_suffix(".gif") if (out is not None and req.interp is not None) else None
    if gif is not None:
        check_writable(gif)
    if individual is not None:
        check_writable(individual, is_dir=True)
        if Path(individual).is_dir() and any(Path(individual).iterdir()):
            raise GancliError(f"--individual {individual} is not empty; give a new or empty folder")
    plan = plan_samples(gen, req)
    if out is not None:
        scale = grid_scale(scale, plan.n_images, plan.nrow, gen.model_config.res, gen.model_config.res)
    written = SampleOutputs(n_images=plan.n_images)
    for_grid = _Collector(plan) if out is not None else None

    def stream(npz_file) -> None:

        with NpzWriter(npz_file, plan.n_images) if npz_file is not None else nullcontext() as npz_writer, \
                _staged_folder(individual) if individual is not None else nullcontext() as folder:
            index, width = 0, _name_width(plan.n_images)
            for batch in iter_samples(gen, plan, req.batch_size):
                written.image_size = tuple(batch.images.shape[1:3])
                if npz_writer is not None:
                    npz_writer.add(batch.images.numpy(), None if batch.labels is None else batch.labels.numpy())
                if folder is not None:
                    for image in batch.images.numpy():
                        save_png(image, folder / f"{index:0{width}d}.png")
                        index += 1
                if for_grid is not None:
                    for_grid.add(batch)
                del batch  # the next batch is made with this one gone

    if npz is not None:
        atomic_write_bytes(Path(npz), stream)
        written.npz = Path(npz)
    else:
        stream(None)
    if individual is not None:
        written.individual = Path(individual)
    if out is not None:
        written.samples = for_grid.samples()
        written.grid = save_grid_png(out, written.samples, labels, scale)
    if gif is not None:
        written.gif = save_gif(interpolation_frames(written.samples, labels, scale), gif, duration_ms=120)
    return written


# ------------------------------------------------------------------------------ default file names
# A command's picture goes, when no --out is given, into its run's folder under a name built from
# what made it: ``RUN/samples/sample-seed3-n64-t0.5.png``, ``RUN/attn/attn-g-seed1-n4-16,16.png``.
# The rule: KIND, then ``stepN`` when the checkpoint is not the run's checkpoints/last.pt, then the
# choices that change the picture in a fixed order, joined by "-". A default name never replaces an
# earlier file: when it is taken, ``-2``, ``-3``, ... is added. A checkpoint outside any run
# directory writes the same names into the current folder.


def output_folder(checkpoint, subfolder: str) -> Path:
    """``RUN/subfolder`` of a loaded checkpoint's run directory; the current folder for a loose file."""
    run = checkpoint.run_dir
    return Path(run) / subfolder if run is not None else Path(".")


def checkpoint_tag(checkpoint) -> list[str]:
    """``["step800"]`` unless the checkpoint is its run's ``checkpoints/last.pt`` (then ``[]``)."""
    path = Path(checkpoint.path)
    if checkpoint.run_dir is not None and path.name == "last.pt" and path.parent.name == "checkpoints":
        return []
    return [f"step{checkpoint.step}"]


def name_part(text: str) -> str:
    """A piece of a file name from what the user typed: letters, digits and ``. , + _ -`` are kept,
    every other run of characters becomes ``_`` (``"Male,-Smiling"`` stays, ``"a b/c"`` -> ``a_b_c``)."""
    return re.sub(r"[^A-Za-z0-9.,+_-]+", "_", str(text)).strip("_") or "_"


def number_part(value: float) -> str:
    """``0.5`` -> ``0.5``, ``2.0`` -> ``2``."""
    return f"{value:g}"


def free_path(folder: Path, stem: str, suffix: str = ".png", companions: tuple[str, ...] = ()) -> Path:
    """``folder/stem.suffix``, or ``stem-2``, ``stem-3``, ... : the first name for which neither that
    file nor a companion (the same name with each of ``companions``, e.g. the GIF beside a grid)
    exists. (Two processes choosing at the same instant could still pick the same name.)"""
    folder = Path(folder)
    for k in itertools.count(1):
        name = stem if k == 1 else f"{stem}-{k}"
        if not any(os.path.lexists(folder / f"{name}{s}") for s in (suffix, *companions)):
            return folder / f"{name}{suffix}"
    raise AssertionError("unreachable")


def default_output(checkpoint, subfolder: str, parts: list[str], suffix: str = ".png",
                   companions: tuple[str, ...] = ()) -> Path:
    """The free default path for a file named by ``parts`` (see the rule above)."""
    return free_path(output_folder(checkpoint, subfolder), "-".join(parts), suffix, companions)


def sample_name_parts(checkpoint, req: SampleRequest, no_ema: bool = False) -> list[str]:
    """``gancli sample``'s default name: ``sample`` (``interp`` with --interp), ``stepN``, ``seedS``,
    ``nN``, ``kK`` (interpolation steps), ``all-classes`` / ``class-SPEC``, ``attrs-SPEC``, ``tT``
    (``t2,1,0.5`` for a sweep), ``no-ema`` (raw weights of a checkpoint that has EMA weights)."""
    parts = ["interp" if req.interp is not None else "sample", *checkpoint_tag(checkpoint), f"seed{req.seed}",
             f"n{req.n}"]
    if req.interp is not None:
        parts.append(f"k{req.interp}")
    if req.classes is not None:
        parts.append("all-classes" if req.classes.strip().lower() == "all" else f"class-{name_part(req.classes)}")
    if req.attrs:
        parts.append(f"attrs-{name_part(req.attrs)}")
    if req.truncation:
        parts.append("t" + ",".join(number_part(t) for t in req.truncation))
    if no_ema:
        parts.append("no-ema")
    return parts


def default_sample_path(checkpoint, req: SampleRequest, no_ema: bool = False) -> Path:
    """Where ``gancli sample`` writes its grid without --out: ``RUN/samples/sample-seed3-n64.png``
    (with --interp also the GIF of the same name, which must be free too)."""
    companions = (".gif",) if req.interp is not None else ()
    return default_output(checkpoint, "samples", sample_name_parts(checkpoint, req, no_ema), ".png", companions)


def default_translation_sheet_path(checkpoint, req: SampleRequest, no_ema: bool = False) -> Path:
    """A translation run's sample sheet without --out: ``RUN/samples/translations-seed3-n8.png``."""
    parts = ["translations", *checkpoint_tag(checkpoint), f"seed{req.seed}", f"n{req.n}",
             *(["no-ema"] if no_ema else [])]
    return default_output(checkpoint, "samples", parts)
