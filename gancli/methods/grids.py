"""The progress grid of a generator G(z, y): fixed latents, and the matching grid of real images.

Layout: one row per class (up to 16 classes) when class-conditional, with the same z in every
column so that rows differ only by class; 8 rows of attribute vectors drawn from the data when
attribute-conditional; an 8x8 grid otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from gancli.config import ModelConfig
from gancli.data import GanDataset
from gancli.models import draw_z

COLUMNS = 8


@dataclass
class GridLayout:
    z: torch.Tensor  # (N, z_dim)
    y: torch.Tensor | None  # labels for G, or None
    nrow: int
    row_labels: list[str]
    real: torch.Tensor | None = None  # real images in the same layout (a method's watch compares with them)


def fixed_layout(dataset: GanDataset, model_cfg: ModelConfig, seed: int, conditional: bool) -> GridLayout:
    """The grid's latents from the model's prior (``model_cfg`` resolved) and labels."""
    g = torch.Generator().manual_seed(seed + 12345)
    if conditional and dataset.label_kind == "class":
        rows = min(dataset.n_classes, 16)
        z = draw_z(COLUMNS, model_cfg, generator=g).repeat(rows, 1)
        y = torch.arange(rows).repeat_interleave(COLUMNS)
        return GridLayout(z, y, COLUMNS, dataset.class_names[:rows])
    if conditional and dataset.label_kind == "attrs":
        pick = torch.randint(len(dataset.labels), (COLUMNS,), generator=g)
        y = dataset.labels[pick].float().repeat_interleave(COLUMNS, dim=0)
        z = draw_z(COLUMNS, model_cfg, generator=g).repeat(COLUMNS, 1)
        names = [",".join(n for n, v in zip(dataset.attr_names, row) if v > 0.5) or "-" for row in dataset.labels[pick]]
        return GridLayout(z, y, COLUMNS, names)
    z = draw_z(COLUMNS * COLUMNS, model_cfg, generator=g)
    return GridLayout(z, None, COLUMNS, [])


def real_images(dataset: GanDataset, layout: GridLayout, seed: int, conditional: bool) -> torch.Tensor:
    """Training images in the layout of the sample grid: (N, C, H, W) in [-1, 1]."""
    g = torch.Generator().manual_seed(seed + 54321)
    if conditional and dataset.label_kind == "class":
        picks = []
        for k in range(len(layout.row_labels)):
            members = (dataset.labels == k).nonzero().flatten()
            if len(members) == 0:
                members = torch.arange(len(dataset))
            picks.append(members[torch.randint(len(members), (COLUMNS,), generator=g)])
        idx = torch.cat(picks)
    else:
        idx = torch.randint(len(dataset), (layout.z.shape[0],), generator=g)
    return dataset.get_batch(idx)[0]
