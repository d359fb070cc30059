"""The collapse statistic of a translator: how much of its inputs' variety of pose survives.

The survey's second CycleGAN failure (shared/seeds/004): when domain B varies much less than A,
every A -> B output takes B's one pose. Colours, classes and even shapes may still vary, so a pixel
distance (or any comparison of whole images) hardly moves; what collapses is *where* things are and
how large. Per image:

    salience  s(p) = sum over channels |x(p) - background|, the background being the median of the
              border pixels
    mask      the pixels with s >= max(SALIENCE_FLOOR, half of the image's largest s): what stands
              out (faint noise, which early translations are full of, does not; an image that is all
              background has an empty mask)
    pose      (centre x, centre y, spread) of the mask, in fractions of the image side: its centroid
              and the root mean square distance of its pixels from it (an empty mask: the image
              centre, spread 0)

The diversity of a batch is the mean pairwise Euclidean distance of its poses, and the ratio of a
translator is that of its translations over that of their inputs:

    ratio = diversity(pose(G(a_1..n))) / diversity(pose(a_1..n))

A faithful translator keeps the ratio near its ground truth's (1.04 for shapes-pair's A -> B and
0.96 for B -> A: a line drawing spreads a little wider than the fill); one that puts everything in
one place drives it towards 0. The alarm fires below COLLAPSE_RATIO (docs/cyclegan.md has the
figures: 1.03 on the default run, 0.39 on the narrow-B run).
"""
from __future__ import annotations

import torch

COLLAPSE_RATIO = 0.5
SALIENCE_FLOOR = 0.1  # in summed |x - background| over channels, x in [-1, 1]


def salient_masks(x: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) -> float (N, H, W) in {0, 1}: the pixels that stand out from the background."""
    x = x.float()
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # (N, C, 2H + 2W)
    background = border.median(dim=-1).values[..., None, None]
    salience = (x - background).abs().sum(dim=1)
    peak = salience.flatten(1).max(dim=1).values[:, None, None]
    return (salience >= (0.5 * peak).clamp_min(SALIENCE_FLOOR)).float()


def poses(x: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) -> (N, 3): centre x, centre y and spread of each image's salient mask."""
    mask = salient_masks(x)
    n, h, w = mask.shape
    total = mask.flatten(1).sum(dim=1)
    weights = mask / total.clamp_min(1.0)[:, None, None]
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    cx = (weights.sum(dim=1) * xs).sum(dim=1)
    cy = (weights.sum(dim=2) * ys).sum(dim=1)
    square = (xs[None, None, :] - cx[:, None, None]) ** 2 + (ys[None, :, None] - cy[:, None, None]) ** 2
    spread = (weights * square).flatten(1).sum(dim=1).sqrt()
    empty = total == 0
    cx, cy = torch.where(empty, 0.5, cx), torch.where(empty, 0.5, cy)
    return torch.stack([cx, cy, spread], dim=1)


def pose_diversity(x: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance of the poses of a batch (N >= 2)."""
    if len(x) < 2:
        raise ValueError("diversity needs at least two images")
    p = poses(x)
    n = len(p)
    return float(torch.cdist(p, p).sum() / (n * (n - 1)))


def collapse_ratio(translations: torch.Tensor, inputs: torch.Tensor) -> float:
    """pose_diversity(translations) / pose_diversity(inputs) (inputs all alike: 1.0)."""
    base = pose_diversity(inputs)
    return pose_diversity(translations) / base if base > 0 else 1.0


__all__ = ["COLLAPSE_RATIO", "SALIENCE_FLOOR", "collapse_ratio", "pose_diversity", "poses", "salient_masks"]
