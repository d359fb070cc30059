"""Diversity figures of ``gancli eval`` beyond the registry's metrics: the spread of each factor of the
built-in data, and the memorisation statistic of ``--nn``.

- :func:`factor_spreads`: shapes-factor-net predicts, for each image, the shape's colour (RGB), the
  background's colour (RGB), the centre (x, y) and the radius. The spread of a factor is the standard
  deviation of its predictions over a set, averaged over its components; ``eval`` reports each
  spread of the generated set over that of the reference (1: G varies the factor as much as the
  data; 0.4: G draws it in a narrow band). It carries what FID on class features hides: a G that
  draws every class in two colours on one background.
- :func:`memorisation`: for each generated sample, the distance d_train to its nearest training
  image and d_held to its nearest held-out image of the same data, in the extractor's features,
  with the two sets of equal size. ``nn_ratio`` is the median of d_train / d_held and
  ``nn_train_closer`` the share of samples nearer to a training image than to any held-out one. A G
  that draws new images from the data's distribution gives about 1 and 0.5 (the two sets are
  draws of the same distribution); one that copies its training images gives a ratio towards 0
  and a share towards 1. (The two-sample idea of Meehan et al. 2020, "A Non-Parametric Test to
  Detect Data-Copying in Generative Models", reduced to two numbers.)
"""
from __future__ import annotations

import torch

from gancli.metrics.knn import nearest
from gancli.metrics.shapes_factor_net import load_shapes_factor_net
from gancli.viz.grid import quantize

#: shapes-factor-net's factors as (name in the record, columns of its ``factors`` output)
FACTOR_GROUPS = (("shape_colour", (0, 1, 2)), ("background", (3, 4, 5)), ("position", (6, 7)), ("size", (8,)))


def factor_spreads(factors: torch.Tensor) -> dict[str, float]:
    """{factor: mean standard deviation of its columns} of an (n, 9) prediction (module docstring)."""
    return {name: float(factors[:, list(cols)].double().std(0).mean()) for name, cols in FACTOR_GROUPS}


def spread_ratios(generated: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """{factor: spread of the generated set / spread of the reference}."""
    gen, ref = factor_spreads(generated), factor_spreads(reference)
    return {name: gen[name] / ref[name] if ref[name] > 0 else float("nan") for name in gen}


def memorisation(generated: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor) -> dict[str, float]:
    """``nn_ratio`` (median d_train / d_held) and ``nn_train_closer`` of ``generated`` features
    against equally many ``train`` and ``held_out`` features (module docstring)."""
    if len(train) != len(held_out):
        raise ValueError(f"memorisation needs as many held-out as training features, got {len(held_out)} and {len(train)}")
    d_train = nearest(generated, train, 1)[0][:, 0].double()
    d_held = nearest(generated, held_out, 1)[0][:, 0].double()
    ratio = d_train / d_held.clamp_min(1e-12)
    return {"nn_ratio": float(ratio.quantile(0.5)), "nn_train_closer": float((d_train < d_held).double().mean())}


__all__ = ["FACTOR_GROUPS", "factor_spreads", "spread_ratios", "memorisation", "SpreadProbe"]


class SpreadProbe:
    """The ``spread`` statistic of a shapes run while it trains: the factor spreads of G's progress
    grid over those of the real grid in the same layout (:func:`spread_ratios`, read by
    shapes-factor-net), averaged over the four factors. 1: G's grid varies colour, background,
    position and size as much as the real one; 0.4: it draws them in narrow bands. One small CNN
    forward of the grid (64 images) per log step."""

    def __init__(self, real: torch.Tensor, device: torch.device | str = "cpu"):

        self.net = load_shapes_factor_net(device=device)
        self.real = factor_spreads(self._factors(real))

    @torch.no_grad()
    def _factors(self, images: torch.Tensor) -> torch.Tensor:
        """Factors of images in [-1, 1], quantised as a saved PNG would be."""

        x = quantize(images).float() / 127.5 - 1
        return self.net.predict(x.to(next(self.net.parameters()).device))[1].cpu()

    def __call__(self, fake: torch.Tensor) -> float:
        gen = factor_spreads(self._factors(fake))
        return sum(gen[name] / self.real[name] for name in gen) / len(gen)
