"""The collapse statistic of a translator: how much of its inputs' variety of layout survives.

The survey's second CycleGAN failure (shared/seeds/004): when domain B varies much less than A,
every A -> B output takes B's one pose. Colours and classes may still vary, so a plain pixel
distance hardly moves; what collapses is *where* things are. Per image, the salience of a pixel is
how far it is from the background (the median of the border pixels), summed over channels; the
layout is the mask of pixels at least half as salient as the image's most salient one (and at
least SALIENCE_FLOOR: an image that is all background has an empty layout), pooled to LAYOUT_RES x
LAYOUT_RES and normalised to sum 1 (a distribution over the image). The mask, rather than the
salience itself, keeps faint noise (which early translations are full of) from spreading every
layout over the whole image. The diversity of
a batch is the mean pairwise total-variation distance of these distributions (0: the same layout
everywhere; 1: disjoint layouts); the ratio is that of the translations over that of their inputs.

    ratio = diversity(G(a_1..n)) / diversity(a_1..n)

A faithful translator keeps the ratio near its own ground truth (1.13 on shapes-pair, where the
outlines spread their mass more than the fills); a collapsed one drives it down. The alarm fires
when the ratio falls below COLLAPSE_RATIO (docs/cyclegan.md has the figures that chose it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LAYOUT_RES = 8
COLLAPSE_RATIO = 0.5
SALIENCE_FLOOR = 0.1  # in summed |x - background| over channels, x in [-1, 1]


def layout_maps(x: torch.Tensor, res: int = LAYOUT_RES) -> torch.Tensor:
    """x (N, C, H, W) -> (N, res * res): where each image differs markedly from its background, as a
    distribution (all zeros for an image without a salient pixel)."""
    x = x.float()
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # (N, C, 4W)
    background = border.median(dim=-1).values[..., None, None]
    salience = (x - background).abs().sum(dim=1, keepdim=True)
    peak = salience.flatten(1).max(dim=1).values[:, None, None, None]
    mask = (salience >= (0.5 * peak).clamp_min(SALIENCE_FLOOR)).float()
    mass = F.adaptive_avg_pool2d(mask, res).flatten(1)
    return mass / mass.sum(dim=1, keepdim=True).clamp_min(1e-8)


def layout_diversity(x: torch.Tensor) -> float:
    """Mean pairwise total-variation distance of the layouts of a batch (N >= 2) in [0, 1]."""
    if len(x) < 2:
        raise ValueError("diversity needs at least two images")
    maps = layout_maps(x)
    distances = torch.cdist(maps, maps, p=1) / 2
    n = len(maps)
    return float(distances.sum() / (n * (n - 1)))


def collapse_ratio(translations: torch.Tensor, inputs: torch.Tensor) -> float:
    """diversity(translations) / diversity(inputs) (inputs all alike: 1.0)."""
    base = layout_diversity(inputs)
    return layout_diversity(translations) / base if base > 0 else 1.0


__all__ = ["COLLAPSE_RATIO", "LAYOUT_RES", "SALIENCE_FLOOR", "collapse_ratio", "layout_diversity", "layout_maps"]
