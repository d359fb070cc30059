"""``shapes-net``: a small classifier of the built-in ``shapes`` data, used as a feature extractor.

FID and KID on Inception features need a 100 MB download; for the built-in data a network that knows
the eight shape classes is both offline and more telling. ``ShapesNet`` is a plain 3-stage CNN:

    x (N, 3, H, W) in [-1, 1] -> resize to 32x32 (area) -> [conv3x3-BN-ReLU x2, maxpool] x 3
      -> global average pool -> features (N, 64) -> linear -> logits (N, 8)

Its weights ship in the package (``weights/shapes_net.pt``, float16, 153 KB) and are made by
``python -m gancli.metrics.train_shapes_net`` (deterministic; 100% held-out accuracy).

``shapes-pair-net`` is the same network trained on both styles of the built-in ``shapes-pair``
(filled shapes on dark, outlines on light; ``weights/shapes_pair_net.pt``, made by
``python -m gancli.metrics.train_shapes_net --styles both``): it scores CycleGAN's translations in
either direction, and says whether a shape's class survived the translation. It is a separate file
so that every shapes-net figure (the default run's FID, its class accuracy) stays comparable.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from gancli.errors import GancliError

FEATURE_DIM = 64
INPUT_RES = 32
WEIGHTS_PATH = Path(__file__).parent / "weights" / "shapes_net.pt"
PAIR_WEIGHTS_PATH = Path(__file__).parent / "weights" / "shapes_pair_net.pt"


def _stage(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.MaxPool2d(2)]


class ShapesNet(nn.Module):
    """``features(x) -> (N, 64)``; ``forward(x) -> logits (N, n_classes)``; x float in [-1, 1]."""

    def __init__(self, n_classes: int = 8, widths: tuple[int, int, int] = (16, 32, FEATURE_DIM)):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for width in widths:
            layers += _stage(c_in, width)
            c_in = width
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(widths[-1], n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(to_input_res(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def to_input_res(x: torch.Tensor) -> torch.Tensor:
    """x resized to INPUT_RES (area when shrinking, bilinear when growing), or x itself."""
    if x.shape[-1] != INPUT_RES or x.shape[-2] != INPUT_RES:
        x = F.interpolate(x, size=(INPUT_RES, INPUT_RES), mode="area" if x.shape[-1] > INPUT_RES else "bilinear")
    return x


def load_weights(net_class, path: Path, what: str, rebuild: str, device: str | torch.device = "cpu"):
    """``net_class(n_classes=...)`` with the weights file at ``path`` (float16 stored, float32
    loaded, ``weights_only=True``), in eval mode; a missing file names ``rebuild``. The throw-away
    initial weights are drawn on a forked RNG: loading an extractor mid-training moves no run's RNG."""

    if not path.is_file():
        raise GancliError(f"{what} weights not found at {path}; rebuild them with '{rebuild}'")
    state = torch.load(path, map_location="cpu", weights_only=True)
    with torch.random.fork_rng(devices=[]):
        net = net_class(n_classes=int(state["n_classes"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["weights"].items()})
    return net.eval().to(device)


def load_shapes_net(path: str | Path | None = None, device: str | torch.device = "cpu") -> ShapesNet:
    """The shipped (or given) weights, in eval mode, float32."""
    return load_weights(ShapesNet, Path(path) if path is not None else WEIGHTS_PATH, "shapes-net",
                        "python -m gancli.metrics.train_shapes_net", device)
