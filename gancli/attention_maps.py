"""``gancli attn-map``: where does each query pixel look? (the maths is in gancli.viz.attention)

G's attention on generated samples by default; D's attention (``net="d"``) on real images (files,
or the run's training data) or on generated ones. One PNG grid: rows = images x attention blocks,
columns = the plain image, one overlay per query point, and optionally the entropy map.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gancli.errors import GancliError
from gancli.viz.attention import AttentionBlock, AttentionMaps, attention_blocks, compute_maps, parse_point, render_grid

BARELY_USED = 0.01  # |gamma| below this: the block's output is scaled by almost nothing


@dataclass
class AttnRequest:
    points: list[str] = field(default_factory=list)  # "X,Y" strings; empty: the image centre
    n: int = 4
    net: str = "g"  # g | d
    layer: str | None = None  # block name or index; None: every block
    images: list[Path] = field(default_factory=list)  # --net d: image files
    generated: bool = False  # --net d: on generated images
    classes: str | None = None
    truncation: float | None = None
    seed: int = 0
    ema: bool | None = None
    entropy: bool = False
    raw: bool = False

    def check(self) -> None:
        if self.net not in ("g", "d"):
            raise GancliError(f"--net is g or d, got {self.net!r}")
        if self.n < 1:
            raise GancliError(f"-n must be positive, got {self.n}")
        if self.images and self.net != "d":
            raise GancliError("--image is for D's attention on real images: add --net d")
        if self.generated and self.net != "d":
            raise GancliError("--generated applies to --net d (G's maps are always on generated images)")
        if self.images and self.generated:
            raise GancliError("give --image files or --generated, not both")
        if self.truncation is not None:
            from gancli.sampling import MIN_TRUNCATION

            if not self.truncation >= MIN_TRUNCATION:
                raise GancliError(f"--truncation must be at least {MIN_TRUNCATION}, got {self.truncation:g}")
        if self.net == "d" and not self.generated and (self.classes is not None or self.truncation is not None):
            raise GancliError("--class and --truncation choose generated images: with --net d add --generated")
        for path in self.images:
            if not Path(path).is_file():
                raise GancliError(f"--image {path}: no such file")


@dataclass
class AttnResult:
    maps: AttentionMaps
    gamma_lines: list[str]
    rows: int
    cols: int
    block_names: list[str]
    points: list[tuple[int, int]]
    raw_path: Path | None = None


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


def _real_images(state: dict, res: int, channels: int, req: AttnRequest) -> torch.Tensor:
    """uint8 (N, C, R, R): the --image files, or N images of the run's training data (seeded choice)."""
    if req.images:
        from gancli.data.image_files import DECODE_ERRORS, load_square

        out = []
        for path in req.images:
            try:
                image = load_square(path, res)
            except DECODE_ERRORS as err:
                raise GancliError(f"--image {path} cannot be read as an image ({err})") from None
            out.append(image.float().mean(0, keepdim=True).round().to(torch.uint8) if channels == 1 else image)
        return torch.stack(out)
    from gancli.data import run_dataset

    train_config = dict(state.get("train_config") or {})
    if not train_config.get("dataset"):
        raise GancliError("this checkpoint does not say what it was trained on; pass --image FILE or --generated")
    ds = run_dataset(train_config, res)
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(req.seed))[: req.n]
    return ds.get_uint8_batch(pick)[0]


def attention_maps(target, req: AttnRequest, device: torch.device | str = "cpu",
                   runs_root: str | Path = "runs") -> tuple[AttnResult, list[AttentionBlock]]:
    from gancli.checkpoint import load_checkpoint, resolve_checkpoint
    from gancli.config import ModelConfig
    from gancli.models import build_models
    from gancli.sampling import data_labels, load_generator, parse_classes, seeded_generators, truncated_normal
    from gancli.viz.grid import to_uint8

    req.check()
    path, _ = resolve_checkpoint(target, runs_root)
    gen = load_generator(path, ema=req.ema, device=device)
    cfg: ModelConfig = gen.model_config
    res = cfg.res
    points = [parse_point(p, res) for p in req.points] or [(res // 2, res // 2)]
    D = None
    if req.net == "d":
        _, D = build_models(cfg)
        try:
            D.load_state_dict(load_checkpoint(path)["D"])
        except (KeyError, RuntimeError) as err:
            raise GancliError(f"{path}: its discriminator does not match its model config ({str(err).splitlines()[0]})") from None
        D.to(device).eval().requires_grad_(False)
    net, prefix = (D, "D") if D is not None else (gen.G, "G")
    blocks = attention_blocks(net, prefix, res)
    if not blocks:
        raise GancliError(f"{path}: this {cfg.name} model has no self-attention blocks in {prefix} "
                          f"(attn_res {cfg.attn_res or 'empty'}); attn-map needs a sagan or biggan model with attention")
    blocks = select_blocks(blocks, req.layer)

    def generated_batch():
        n = req.n
        z_gen, label_gen = seeded_generators(req.seed)
        z = truncated_normal(n, cfg.z_dim, req.truncation, z_gen)
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
        images = to_uint8(x)
        result = compute_maps(lambda: maps, images, blocks, points, res)
    else:
        if req.generated:
            z, y = generated_batch()
            with torch.no_grad():
                x = gen.G(z, y)
        else:
            real = _real_images(gen.state, res, cfg.channels, req)
            x = (real.float() / 127.5 - 1).to(device)
        images = to_uint8(x)
        result = compute_maps(lambda: D.features(x, return_attn=True)[1], images, blocks, points, res)
    rows = len(images) * len(blocks)
    cols = 1 + len(points) + (1 if req.entropy else 0)
    return AttnResult(result, gamma_report(blocks), rows, cols, [b.name for b in blocks], points), blocks


def attention_map_files(target, req: AttnRequest, out: Path, device: torch.device | str = "cpu",
                        runs_root: str | Path = "runs") -> AttnResult:
    """Checks the destination, computes the maps, writes the PNG (and with ``raw`` the .npy:
    float32 (N, blocks, points, R, R): attention per pixel, each map summing to 1)."""
    from gancli.checkpoint import atomic_write_bytes
    from gancli.sampling import check_writable
    from gancli.viz.grid import save_png

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GancliError(f"--out {out}: the grid is a PNG; give a .png path")
    check_writable(out)
    raw_path = out.with_suffix(".npy") if req.raw else None
    if raw_path is not None:
        check_writable(raw_path)
    result, _ = attention_maps(target, req, device, runs_root)
    save_png(render_grid(result.maps, entropy=req.entropy), out)
    if raw_path is not None:
        array = result.maps.maps.numpy().astype(np.float32)
        atomic_write_bytes(raw_path, lambda f: np.save(f, array))
        result.raw_path = raw_path
    return result


__all__ = ["AttnRequest", "AttnResult", "attention_maps", "attention_map_files", "gamma_report", "select_blocks"]
