"""Images through a trained translator (``--method cyclegan``): test-set sheets and image files.

    tr = load_translators("runs/x")                       # G_AB and G_BA of the run's checkpoint
    sheet = translation_sheet(tr, n=8, seed=0)            # (6n, C, H, W): a, G_AB(a), G_BA(G_AB(a)), b, ...
    out = translate_files(tr, Path("photos"), "a2b", Path("out"), sheet=Path("sheet.png"))

Input files are read as training reads a folder (``gancli.data.image_files.load_square``): RGB,
the centre square of the short side, Lanczos-resized to the run's resolution; the translations are
written at that resolution, one PNG per input, named after it.
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancli.config import dataset_seed
from gancli.data import TwoDomainDataset, build_pair_dataset
from gancli.data.base import to_float
from gancli.data.image_files import DECODE_ERRORS, bomb_warnings_as_errors, is_image_name, load_square, skip_reason
from gancli.errors import GancliError
from gancli.methods import LoadedCheckpoint, load_run_checkpoint
from gancli.methods.cyclegan import test_images, translate_both, triplet_rows
from gancli.sampling.generate import CheckpointView
from gancli.sampling.latents import finite_output
import stat
from gancli.sampling.files import _staged_folder, check_writable, default_translation_sheet_path, grid_scale
from gancli.viz.grid import display_scale, grid_array, save_grid, save_png, to_uint8, upscale
from gancli.viz.labels import Cells, annotate

#: direction -> (generator, input domain, output domain)
DIRECTIONS = {"a2b": ("G_AB", "A", "B"), "b2a": ("G_BA", "B", "A")}


@dataclass
class LoadedTranslators(CheckpointView):
    nets: dict[str, nn.Module]  # "G_AB", "G_BA": in eval mode, on their device
    ema: bool
    checkpoint: LoadedCheckpoint = field(repr=False)

    @property
    def res(self) -> int:
        return self.model_config.res

    @property
    def device(self) -> torch.device:
        return next(self.nets["G_AB"].parameters()).device


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise GancliError(f"unknown --direction {direction!r}; choose a2b (G_AB: A -> B) or b2a (G_BA: B -> A)")
    return direction


def load_translators(target: str | Path | None, ema: bool | None = None, device: str | torch.device = "cpu",
                     checkpoint: LoadedCheckpoint | None = None) -> LoadedTranslators:
    """Both generators of a two-domain run's checkpoint (``target``: a file, a run, None = newest)."""
    ckpt = checkpoint if checkpoint is not None else load_run_checkpoint(target)
    if not ckpt.method.two_domain:
        raise GancliError(f"{ckpt.path} is a --method {ckpt.method.name} run; translating needs a two-domain run "
                          "(--method cyclegan)")
    nets, used = {}, []
    for name in ("G_AB", "G_BA"):
        nets[name], was_ema = ckpt.network(name, ema=ema, device=device)
        used.append(was_ema)
    return LoadedTranslators(nets, all(used), ckpt)


def run_pair_data(ckpt: LoadedCheckpoint, split: str = "test") -> TwoDomainDataset:
    """The two-domain data a run trained on, read for ``split`` (CycleGAN's testA/ testB/)."""
    cfg = ckpt.train_config
    if not cfg.get("dataset"):
        raise GancliError(f"{ckpt.path} does not say what it was trained on")
    return build_pair_dataset(cfg["dataset"], root=cfg.get("data_root"), res=ckpt.model_config.res, split=split,
                              seed=dataset_seed(cfg), size=cfg.get("data_size"),
                              narrow_b=bool(cfg.get("narrow_b", False)))


@torch.no_grad()
def translate(net: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """images float (N, C, H, W) in [-1, 1] -> their translations, float on the CPU (NaN refused)."""
    device = next(net.parameters()).device
    parts = [finite_output(net(images[i: i + batch_size].to(device))).float().cpu()
             for i in range(0, len(images), batch_size)]
    return torch.cat(parts) if parts else images.new_zeros((0, *images.shape[1:]))


def translation_sheet(tr: LoadedTranslators, n: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` test images of each domain (a seeded draw) as rows of a, G_AB(a), G_BA(G_AB(a)), b,
    G_BA(b), G_AB(G_BA(b)): (6n, C, H, W) in [-1, 1]; 6 images per row."""
    layout = test_images(run_pair_data(tr.checkpoint, "test"), n, seed)
    a, b = layout.a.to(tr.device), layout.b.to(tr.device)
    with torch.no_grad():
        out = {k: finite_output(v) for k, v in translate_both(tr.nets, a, b).items()}
    return triplet_rows(a, b, out).cpu()


@dataclass
class WrittenSheet:
    path: Path
    rows: int  # test images per domain
    res: int
    step: int
    ema: bool


SHEET_COLUMNS = ("a", "G_AB(a)", "G_BA(G_AB(a))", "b", "G_BA(b)", "G_AB(G_BA(b))")


def write_translation_sheet(ckpt: LoadedCheckpoint, req, out: Path | None, ema: bool | None = None,
                            device: str | torch.device = "cpu", labels: bool = True,
                            scale: int | None = None) -> WrittenSheet:
    """``gancli sample`` on a translation run: ``req.n`` test images per domain and their
    translations and cycles (``translation_sheet``) as one PNG, upscaled by ``scale`` (default:
    tiles to about 64 px), with ``labels`` its columns named on top; ``out`` None: a name that says
    what was drawn in the run's samples/ folder."""
    if out is not None:
        check_writable(out)
    tr = load_translators(None, ema=ema, device=device, checkpoint=ckpt)
    if out is None:
        out = default_translation_sheet_path(ckpt, req, no_ema=ckpt.has_ema() and not tr.ema)
        check_writable(out)
    scale = grid_scale(scale, 6 * req.n, 6, tr.res, tr.res)
    sheet = translation_sheet(tr, req.n, req.seed)
    grid = upscale(grid_array(sheet, nrow=6), scale)
    if labels:
        cells = Cells(len(sheet) // 6, 6, tr.res * scale, tr.res * scale, 2 * scale)
        grid = annotate(grid, cells, columns=SHEET_COLUMNS)
    save_png(grid, out)
    return WrittenSheet(Path(out), len(sheet) // 6, tr.res, tr.step, tr.ema)


@dataclass
class TranslatedFiles:
    outputs: list[Path]  # one PNG per readable input
    skipped: dict[str, list[str]]  # reason -> input names left out
    sheet: Path | None
    res: int


def input_files(source: Path) -> tuple[list[Path], dict[str, list[str]]]:
    """The image files ``source`` names (a file, or a folder's image files, sorted) and the names
    of the folder's other files by reason. A missing path or a folder without images: GancliError."""

    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise GancliError(f"--input {source} does not exist") from None
    except OSError as err:
        raise GancliError(f"--input {source} cannot be read ({err.strerror or err})") from None
    if stat.S_ISREG(mode):
        return [source], {}
    if not stat.S_ISDIR(mode):  # a FIFO or a device would block or never end: refused by type, unopened
        raise GancliError(f"--input {source} is neither an image file nor a folder")
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if is_image_name(p)]
    if not images:
        raise GancliError(f"--input {source} holds no image files")
    others = [p.name for p in files if not is_image_name(p)]
    return images, ({"not an image": others} if others else {})


def read_inputs(paths: list[Path], res: int, single: Path | None = None) -> tuple[torch.Tensor, list[Path], dict[str, list[str]]]:
    """Decode as training does -> (float (N, 3, res, res) in [-1, 1], the paths read, skipped by
    reason); ``single``: the one file the user named (its failure is the error)."""
    images, kept, skipped = [], [], {}
    with bomb_warnings_as_errors():
        for path in paths:
            try:
                images.append(load_square(path, res))
                kept.append(path)
            except DECODE_ERRORS as error:
                skipped.setdefault(skip_reason(error), []).append(path.name)
    if single is not None and not images:
        raise GancliError(f"--input {single} is not an image gancli can read ({next(iter(skipped))})")
    if not images:
        what = "; ".join(f"{reason}: {', '.join(names[:3])}" for reason, names in skipped.items())
        raise GancliError(f"no input could be read as an image ({what})")
    return to_float(torch.stack(images)), kept, skipped


def translate_files(tr: LoadedTranslators, source: Path, direction: str, out: Path,
                    sheet: Path | None = None, batch_size: int = 64) -> TranslatedFiles:
    """Translate the image file or folder ``source`` with ``direction``'s generator into the new
    folder ``out`` (``<input stem>.png`` each; written whole or not at all) and, with ``sheet``,
    a grid of input / translation pairs."""

    net = tr.nets[DIRECTIONS[check_direction(direction)][0]]
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GancliError(f"--out {out} already exists and is not an empty folder; choose a new one")
    check_writable(out, is_dir=True)
    if sheet is not None:
        check_writable(Path(sheet))
    paths, skipped = input_files(Path(source))
    images, kept, unread = read_inputs(paths, tr.res, single=Path(source) if Path(source).is_file() else None)
    for reason, names in unread.items():
        skipped.setdefault(reason, []).extend(names)
    translated = translate(net, images, batch_size)
    stems = unique_stems(kept)
    sheet_tmp = None
    try:
        with _staged_folder(out) as staging:
            for stem, image in zip(stems, to_uint8(translated).numpy()):
                save_png(image, staging / f"{stem}.png")
            if sheet is not None:  # written before the folder is renamed into place: both or neither
                sheet = Path(sheet)
                sheet_tmp = sheet.with_name(f".{sheet.name}.{os.getpid()}.tmp")
                pairs = torch.stack([images, translated], dim=1).flatten(0, 1)
                save_grid(pairs, sheet_tmp, nrow=2 * min(4, len(images)), scale=display_scale(tr.res))
        if sheet_tmp is not None:
            os.replace(sheet_tmp, sheet)
    except OSError as err:
        raise GancliError(f"cannot write the translations: {err.strerror or err}; nothing was written") from None
    finally:
        if sheet_tmp is not None:
            sheet_tmp.unlink(missing_ok=True)
    return TranslatedFiles([out / f"{stem}.png" for stem in stems], skipped, sheet, tr.res)


def unique_stems(paths: list[Path]) -> list[str]:
    """One output name per input, never two alike: a file's stem, and for a stem taken already
    (a.png beside a.jpg) the stem with its extension, then a number (a.png -> a_png, a_png-2),
    skipping every name another input has (a-1.png beside a.jpg and a.png)."""
    taken = {path.stem for path in paths}
    used: set[str] = set()
    stems = []
    for path in paths:
        stem = path.stem
        if stem in used:
            base = f"{stem}_{path.suffix.lstrip('.').lower()}" if path.suffix else stem
            stem, k = base, 1
            while stem in used or stem in taken:
                k += 1
                stem = f"{base}-{k}"
        used.add(stem)
        stems.append(stem)
    return stems


def describe_skipped(skipped: dict[str, Any]) -> str:
    return "; ".join(f"{len(names)} {reason} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                     for reason, names in skipped.items())


__all__ = ["DIRECTIONS", "LoadedTranslators", "TranslatedFiles", "WrittenSheet", "write_translation_sheet", "check_direction", "describe_skipped",
           "input_files", "load_translators", "read_inputs", "run_pair_data", "translate", "translate_files", "unique_stems",
           "translation_sheet"]
