"""``gancli attn-map``: where does each query pixel look? (the maths is in gancli.inspect.attention_math)

G's attention on generated samples by default; D's attention (``net="d"``) on real images (files,
or the run's training data) or on generated ones. One PNG grid: rows = images x attention blocks,
columns = the plain image, one overlay per query point, and optionally the entropy map.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gancli.checkpoint import atomic_write_bytes
from gancli.config import RUNS_ROOT, AttnRequest
from gancli.data import run_dataset
from gancli.data.image_files import DECODE_ERRORS, load_square
from gancli.errors import GancliError
from gancli.inspect.attention_math import AttentionBlock, AttentionMaps, attention_blocks, compute_maps, parse_point, render_grid
from gancli.methods import LoadedCheckpoint, load_run_checkpoint
from gancli.sampling import (check_writable, data_labels, draw_latents, finite_output, load_generator, parse_classes,
                             seeded_generators)
from gancli.sampling.files import checkpoint_tag, default_output, name_part, number_part
from gancli.viz.grid import save_png, to_uint8

BARELY_USED = 0.01  # |gamma| below this: the block's output is scaled by almost nothing


@dataclass
class AttnResult:
    maps: AttentionMaps
    gamma_lines: list[str]
    rows: int
    cols: int
    block_names: list[str]
    points: list[tuple[int, int]]
    raw_path: Path | None = None
    path: Path | None = None  # the PNG written (attention_map_files)
    seed: int | None = None  # the seed of z, labels and images (gancli.api.write_attention_maps)


def select_blocks(blocks: list[AttentionBlock], layer: str | None) -> list[AttentionBlock]:
    if layer is None:
        return blocks
    names = [b.name for b in blocks]
    if layer in names:
        return [blocks[names.index(layer)]]
    if layer.lstrip("-").isdigit() and 0 <= int(layer) < len(blocks):
        return [blocks[int(layer)]]
    raise GancliError(f"--layer {layer}: choose a block name ({', '.join(names)}) or an index 0-{len(blocks) - 1}")


def gamma_report(blocks: list[AttentionBlock]) -> list[str]:
    lines = []
    for block in blocks:
        g = block.gamma
        note = " - barely used: its output is scaled by almost 0" if abs(g) < BARELY_USED else ""
        lines.append(f"{block.name} ({block.grid}x{block.grid} queries, {block.key_grid}x{block.key_grid} keys): "
                     f"gamma = {g:+.4f}{note}")
    return lines


def _real_images(train_config: dict, res: int, channels: int, req: AttnRequest) -> torch.Tensor:
    """uint8 (N, C, R, R): the --image files, or N images of the run's training data (seeded choice)."""
    if req.images:
        out = []
        for path in req.images:
            try:
                image = load_square(path, res)
            except DECODE_ERRORS as err:
                raise GancliError(f"--image {path} cannot be read as an image ({err})") from None
            out.append(image.float().mean(0, keepdim=True).round().to(torch.uint8) if channels == 1 else image)
        return torch.stack(out)
    if not train_config.get("dataset"):
        raise GancliError("this checkpoint does not say what it was trained on; pass --image FILE or --generated")
    ds = run_dataset(train_config, res)
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(req.seed))[: req.n]
    return ds.get_uint8_batch(pick)[0]


def attention_maps(target, req: AttnRequest, device: torch.device | str = "cpu",
                   runs_root: str | Path = RUNS_ROOT) -> tuple[AttnResult, list[AttentionBlock]]:
    req.check()
    ckpt = target if isinstance(target, LoadedCheckpoint) else load_run_checkpoint(target, runs_root)
    path = ckpt.path
    if ckpt.method.two_domain:
        raise GancliError(f"{path}: a {ckpt.method.name} run's networks (ResNet translators, PatchGAN Ds) have no "
                          "self-attention; attn-map needs a sagan or biggan model with attention")
    gen = load_generator(ckpt, ema=req.ema, device=device)
    cfg = gen.model_config
    res = cfg.res
    points = [parse_point(p, res) for p in req.points] or [(res // 2, res // 2)]
    D = ckpt.network("D", ema=False, device=device)[0] if req.net == "d" else None
    net, prefix = (D, "D") if D is not None else (gen.G, "G")
    blocks = attention_blocks(net, prefix, res)
    if not blocks:
        raise GancliError(f"{path}: this {cfg.name} model has no self-attention blocks in {prefix} "
                          f"(attn_res {cfg.attn_res or 'empty'}); attn-map needs a sagan or biggan model with attention")
    blocks = select_blocks(blocks, req.layer)

    def generated_batch():
        n = req.n
        z_gen, label_gen = seeded_generators(req.seed)
        z = draw_latents(n, cfg, req.truncation, z_gen)
        y = data_labels(gen, n, label_gen)
        if req.classes is not None:
            chosen = parse_classes(req.classes, gen)
            if len(chosen) != 1:
                raise GancliError("attn-map takes one --class")
            y = torch.full((n,), chosen[0], dtype=torch.int64)
        return z.to(device), None if y is None else y.to(device)

    if req.net == "g":
        z, y = generated_batch()
        with torch.no_grad():
            x, maps = gen.G(z, y, return_attn=True)
        finite_output(x)
        images = to_uint8(x)
        result = compute_maps(lambda: maps, images, blocks, points, res)
    else:
        if req.generated:
            z, y = generated_batch()
            with torch.no_grad():
                x = finite_output(gen.G(z, y))
        else:
            real = _real_images(ckpt.train_config, res, cfg.channels, req)
            x = (real.float() / 127.5 - 1).to(device)
        images = to_uint8(x)
        result = compute_maps(lambda: D.features(x, return_attn=True)[1], images, blocks, points, res)
    rows = len(images) * len(blocks)
    cols = 1 + len(points) + (1 if req.entropy else 0)
    return AttnResult(result, gamma_report(blocks), rows, cols, [b.name for b in blocks], points), blocks


def attention_file_parts(ckpt, req: AttnRequest) -> list[str]:
    """The default file name of ``gancli attn-map`` (the rule of ``gancli.sampling.files``):
    ``attn-g`` / ``attn-d``, ``stepN`` (not the run's last.pt), what the network looked at (``seedS``
    and ``nN`` for generated images; D: ``real-seedS-nN``, ``generated-seedS-nN``, or the first
    --image file's name and ``+K`` more), the query points ``X,Y`` joined by ``+``, then
    ``layer-NAME``, ``class-SPEC``, ``tT``, ``entropy``, ``no-ema`` where given."""
    res = ckpt.model_config.res
    points = [parse_point(p, res) for p in req.points] or [(res // 2, res // 2)]
    parts = [f"attn-{req.net}", *checkpoint_tag(ckpt)]
    uses_g = req.net == "g" or req.generated
    if req.images:
        more = len(req.images) - 1
        parts.append(name_part(Path(req.images[0]).stem) + (f"+{more}" if more else ""))
    else:
        if req.net == "d":
            parts.append("generated" if req.generated else "real")
        parts += [f"seed{req.seed}", f"n{req.n}"]
    parts.append("+".join(f"{x},{y}" for x, y in points))
    if req.layer is not None:
        parts.append(f"layer-{name_part(req.layer)}")
    if req.classes is not None and uses_g:
        parts.append(f"class-{name_part(req.classes)}")
    if req.truncation is not None and uses_g:
        parts.append(f"t{number_part(req.truncation)}")
    if req.entropy:
        parts.append("entropy")
    if uses_g and req.ema is False and ckpt.has_ema():
        parts.append("no-ema")
    return parts


def attention_map_files(target, req: AttnRequest, out: Path | None = None, device: torch.device | str = "cpu",
                        runs_root: str | Path = RUNS_ROOT, labels: bool = True) -> AttnResult:
    """Checks the destination, computes the maps, writes the PNG (and with ``raw`` the .npy:
    float32 (N, blocks, points, R, R): attention per pixel, each map summing to 1). ``out`` None:
    ``RUN/attn/`` and a name built by :func:`attention_file_parts` (the current folder for a loose
    checkpoint), ``-2``, ``-3`` added rather than replace an earlier file. ``result.path`` is the PNG;
    with ``labels`` it names each row's image and block and each column's query point."""
    if out is not None:
        out = Path(out)
        if out.suffix.lower() != ".png":
            raise GancliError(f"--out {out}: the grid is a PNG; give a .png path")
    req.check()
    ckpt = load_run_checkpoint(target, runs_root)
    if out is None:
        out = default_output(ckpt, "attn", attention_file_parts(ckpt, req), ".png", companions=(".npy",))
    check_writable(out)
    raw_path = out.with_suffix(".npy") if req.raw else None
    if raw_path is not None:
        check_writable(raw_path)
    result, _ = attention_maps(ckpt, req, device, runs_root)
    save_png(render_grid(result.maps, entropy=req.entropy, labels=labels), out)
    result.path = out
    if raw_path is not None:
        array = result.maps.maps.numpy().astype(np.float32)
        atomic_write_bytes(raw_path, lambda f: np.save(f, array))
        result.raw_path = raw_path
    return result


__all__ = ["AttnRequest", "AttnResult", "attention_maps", "attention_map_files", "attention_file_parts", "gamma_report",
           "select_blocks"]
