"""``shapes-factor-net``: a feature extractor for the built-in ``shapes`` data that sees what it varies.

shapes-net is a class classifier: its globally pooled features barely move with a shape's colour,
the background, the position or the size, so FID / KID / precision-recall on them do not see a
generator that draws every class in one pose and two colours. ``ShapesFactorNet`` is the same
kind of small CNN, trained (``benchmarks/train_shapes_factor_net.py``) to read every factor the
data varies:

    x (N, 3, H, W) in [-1, 1] -> resize to 32x32 (area) -> [conv3x3-BN-ReLU x2, maxpool] x 3
      -> (N, 64, 4, 4) -> conv1x1-BN-ReLU -> (N, 32, 4, 4) -> flatten (512)
      -> linear -> features (N, 128)
      -> linear -> logits (N, 8)            class (cross-entropy)
      -> linear -> factors (N, 9)           shape colour RGB, background RGB, centre x, y, radius
                                            (mean squared error on standardised targets)

Both heads are linear in the features, so every factor is a direction of the feature space that
FID / KID / PR / PRDC measure. The last stage is flattened rather than averaged: global average
pooling is invariant to where a shape sits, and position is one of the factors. (Coordinate
channels would let the convolutions know where they are, but an average over the map would still
wash most of it out; the flattened 4x4 map keeps it by construction.)

Its weights ship in the package (``weights/shapes_factor_net.pt``, float16), together with the
factors' training mean and std (``factor_mean``, ``factor_std``) so that :meth:`predict` gives the
factors in their units: colours in [0, 1], centre and radius as fractions of the image side.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gancli.metrics.shapes_net import INPUT_RES, _stage, load_weights, to_input_res

FEATURE_DIM = 128
SQUEEZE = 32  # channels of the flattened 4x4 map
#: the regression targets, in the order of the ``factors`` head
FACTORS = ("fg_r", "fg_g", "fg_b", "bg_r", "bg_g", "bg_b", "center_x", "center_y", "radius")
WEIGHTS_PATH = Path(__file__).parent / "weights" / "shapes_factor_net.pt"


class ShapesFactorNet(nn.Module):
    """``features(x) -> (N, 128)``; ``forward(x) -> class logits (N, 8)``; ``factors(f) -> (N, 9)``
    standardised; ``predict(x) -> (logits, factors in their units)``. x float in [-1, 1]."""

    def __init__(self, n_classes: int = 8, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for width in widths:
            layers += _stage(c_in, width)
            c_in = width
        layers += [nn.Conv2d(c_in, SQUEEZE, 1, bias=False), nn.BatchNorm2d(SQUEEZE), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        spatial = INPUT_RES // 2 ** len(widths)
        self.embed = nn.Linear(SQUEEZE * spatial * spatial, FEATURE_DIM)
        self.fc = nn.Linear(FEATURE_DIM, n_classes)
        self.factor_head = nn.Linear(FEATURE_DIM, len(FACTORS))
        self.register_buffer("factor_mean", torch.zeros(len(FACTORS)))
        self.register_buffer("factor_std", torch.ones(len(FACTORS)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.body(to_input_res(x)).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def factors(self, features: torch.Tensor) -> torch.Tensor:
        """Standardised factor predictions (N, 9) from features."""
        return self.factor_head(features)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits (N, 8), factors (N, 9) in their units: see :data:`FACTORS`)."""
        features = self.features(x)
        return self.fc(features), self.factor_head(features) * self.factor_std + self.factor_mean


def load_shapes_factor_net(path: str | Path | None = None, device: str | torch.device = "cpu") -> ShapesFactorNet:
    """The shipped (or given) weights, in eval mode, float32."""
    return load_weights(ShapesFactorNet, Path(path) if path is not None else WEIGHTS_PATH, "shapes-factor-net",
                        "python benchmarks/train_shapes_factor_net.py", device)
