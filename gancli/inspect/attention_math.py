"""Attention maps of SAGAN-style self-attention blocks, for chosen query pixels.

A block at an H x W feature map has L = H*W query positions and S key positions: S = L with
plain keys, S = (H/2)(W/2) with SAGAN's 2x2 max-pooled keys. Its attention beta (N, L, S) has rows
that sum to 1. For a query pixel (x, y) of the R x R output image (origin top-left):

- the query is the grid cell containing the pixel: (x * W // R, y * H // R);
- its row of beta is a distribution over the key grid; a pooled key summarises a 2x2 patch of the
  feature map, so its weight is spread evenly over those four cells (each gets a quarter), which
  gives a map on the query grid that still sums to 1;
- that map is blown up to R x R (each cell's weight shared evenly by its (R/H)^2 pixels, so the
  map still sums to 1) and overlaid on the image.

The attention entropy of a query, -sum_j beta_j log beta_j, divided by log S (so 0 = one key,
1 = uniform over all keys), shows which regions look locally and which globally.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from gancli.errors import GancliError
from gancli.layers import SelfAttention
from gancli.viz.labels import Cells, annotate


@dataclass
class AttentionBlock:
    name: str  # "G.attn2", "D.attn1"
    module: torch.nn.Module  # the SelfAttention
    grid: int  # H = W of its feature map (query grid side)
    pooled: bool

    @property
    def key_grid(self) -> int:
        return self.grid // 2 if self.pooled else self.grid

    @property
    def gamma(self) -> float:
        return float(self.module.gamma.detach())


def attention_blocks(net: torch.nn.Module, prefix: str, res: int) -> list[AttentionBlock]:
    """The self-attention blocks of a ResNet G (``prefix`` "G") or D ("D"), in forward order, with
    the side of the feature map each one sees."""

    attn = getattr(net, "attn", None)
    if not isinstance(attn, torch.nn.ModuleDict):
        return []
    blocks = []
    for key, module in attn.items():
        if not isinstance(module, SelfAttention):
            continue
        i = int(key)
        if prefix == "G":
            grid = 4 * 2 ** (i + 1)
        else:  # D: count the downsampling blocks up to and including block i
            grid = res
            for block in list(net.blocks)[: i + 1]:
                grid = grid // 2 if getattr(block, "down", False) else grid
        blocks.append(AttentionBlock(f"{prefix}.attn{i}", module, grid, module.pool))
    return blocks


def parse_point(text: str, res: int) -> tuple[int, int]:
    """``"X,Y"`` -> (x, y) pixel coordinates, checked against the R x R image."""
    try:
        x_text, y_text = text.split(",")
        x, y = int(x_text), int(y_text)
    except ValueError:
        raise GancliError(f"--point takes X,Y in pixels, e.g. 16,16; got {text!r}") from None
    if not (0 <= x < res and 0 <= y < res):
        raise GancliError(f"--point {x},{y} is outside the {res}x{res} image: x and y must be in 0..{res - 1}")
    return x, y


def query_cell(point: tuple[int, int], res: int, grid: int) -> tuple[int, int]:
    """The (column, row) of the grid x grid attention map whose cell contains pixel ``point``."""
    x, y = point
    return x * grid // res, y * grid // res


def spread_keys(rows: torch.Tensor, grid: int, pooled: bool) -> torch.Tensor:
    """rows (..., S) over the key grid -> (..., grid, grid) over the query grid; a pooled key's
    weight is split evenly over its 2x2 patch, so every map keeps its sum."""
    key_grid = grid // 2 if pooled else grid
    maps = rows.reshape(*rows.shape[:-1], key_grid, key_grid)
    if pooled:
        maps = maps.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1) / 4
    return maps


def upsample(maps: torch.Tensor, res: int) -> torch.Tensor:
    """(..., g, g) -> (..., res, res), each cell a (res/g)-pixel square."""
    factor = res // maps.shape[-1]
    return maps.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def entropy_map(beta: torch.Tensor, grid: int) -> torch.Tensor:
    """beta (N, L, S) -> (N, grid, grid): each query's attention entropy over log S, in [0, 1]."""
    p = beta.double().clamp_min(1e-30)
    h = -(beta.double() * p.log()).sum(-1) / math.log(beta.shape[-1])
    return h.reshape(beta.shape[0], grid, grid).float()


@dataclass
class AttentionMaps:
    images: torch.Tensor  # uint8 (N, R, R, 3): the images the networks saw
    blocks: list[AttentionBlock]
    points: list[tuple[int, int]]
    maps: torch.Tensor  # float32 (N, B, P, R, R): attention per pixel, per image, block and point; each sums to 1
    entropy: list[torch.Tensor] = field(default_factory=list)  # per block: (N, grid, grid) in [0, 1]
    labels: torch.Tensor | None = None


def compute_maps(forward, images_u8: torch.Tensor, blocks: list[AttentionBlock], points: list[tuple[int, int]],
                 res: int) -> AttentionMaps:
    """``forward()`` runs the network once with ``return_attn=True`` and returns its maps dict."""
    with torch.no_grad():
        raw = forward()
    per_block, entropies = [], []
    for block in blocks:
        beta = raw[block.name].float().cpu()  # (N, L, S)
        cells = [query_cell(p, res, block.grid) for p in points]
        rows = torch.stack([beta[:, cy * block.grid + cx] for cx, cy in cells], dim=1)  # (N, P, S)
        cell_pixels = (res // block.grid) ** 2
        per_block.append(upsample(spread_keys(rows, block.grid, block.pooled), res) / cell_pixels)
        entropies.append(entropy_map(beta, block.grid))
    maps = torch.stack(per_block, dim=1) if per_block else torch.empty(len(images_u8), 0, len(points), res, res)
    return AttentionMaps(images_u8, blocks, points, maps, entropies)


# ---------------------------------------------------------------------------------------- drawing
def colormap(values: np.ndarray, name: str = "magma") -> np.ndarray:
    """values in [0, 1] (H, W) -> RGB float (H, W, 3), a perceptually uniform matplotlib map."""
    from matplotlib import colormaps

    return colormaps[name](np.clip(values, 0.0, 1.0))[..., :3]


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """uint8 image (R, R, 3) and a map (R, R) -> uint8 blend; the map is scaled by its max so the
    strongest key is always the brightest colour."""
    peak = float(heat.max())
    colours = colormap(heat / peak if peak > 0 else heat)
    blend = (1 - alpha) * image.astype(np.float64) / 255 + alpha * colours
    return (np.clip(blend, 0, 1) * 255).round().astype(np.uint8)


def mark(tile: np.ndarray, point: tuple[int, int], scale: int) -> np.ndarray:
    """Draws the query: a white ring with a black outline around the pixel, visible on any colour."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(tile)
    draw = ImageDraw.Draw(image)
    cx, cy = (point[0] + 0.5) * scale, (point[1] + 0.5) * scale
    r = max(3.0, 1.5 * scale)
    draw.ellipse([cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1], outline=(0, 0, 0), width=3)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 255, 255), width=1)
    return np.asarray(image)


def render_grid(result: AttentionMaps, entropy: bool = False, pad: int = 2, labels: bool = False) -> np.ndarray:
    """Rows = images x blocks; columns = the image, one overlay per point, [the entropy map].
    Tiles are upscaled (nearest) to at least 128 px so that markers and cells are visible. With
    ``labels`` each row's image and block are named on the left, each column's point on top."""
    n, res = result.images.shape[0], result.images.shape[1]
    scale = max(1, 128 // res)
    tile = res * scale
    cols = 1 + len(result.points) + (1 if entropy else 0)
    rows = n * max(1, len(result.blocks))
    canvas = np.full((rows * (tile + pad) + pad, cols * (tile + pad) + pad, 3), 255, dtype=np.uint8)

    def put(r: int, c: int, array: np.ndarray) -> None:
        y, x = pad + r * (tile + pad), pad + c * (tile + pad)
        canvas[y: y + tile, x: x + tile] = array

    def big(array: np.ndarray) -> np.ndarray:
        return array.repeat(scale, axis=0).repeat(scale, axis=1)

    for i in range(n):
        image = result.images[i].numpy()
        for b, block in enumerate(result.blocks or [None]):
            r = i * max(1, len(result.blocks)) + b
            put(r, 0, big(image))
            for p, point in enumerate(result.points):
                heat = result.maps[i, b, p].numpy()
                put(r, 1 + p, mark(overlay(big(image), big(heat)), point, scale))
            if entropy and block is not None:
                ent = upsample(result.entropy[b][i], res).numpy()
                put(r, cols - 1, big((colormap(ent, "viridis") * 255).round().astype(np.uint8)))
    if not labels:
        return canvas
    names = [f"image {i + 1}" + (f", {block.name}" if block is not None else "")
             for i in range(n) for block in (result.blocks or [None])]
    columns = ["image", *(f"query {x},{y}" for x, y in result.points), *(["entropy"] if entropy else [])]
    return annotate(canvas, Cells(rows, cols, tile, tile, pad), rows=names, columns=columns)
