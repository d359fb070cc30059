"""BEGAN's networks (registered as ``began`` in began.py; Berthelot, Schumm & Metz 2017, Fig. 1): a generator and an autoencoder D.

With n = ``ch`` (``d_ch`` in D), h = ``z_dim`` (the paper takes z and h of one size), and s scales
from 8x8 (7x7 at 28 px) up to the resolution (s = 3 at 28 and 32 px, 4 at 64, 5 at 128):

- decoder (G, and D's second half): linear h -> (n, 8, 8); per scale two 3x3 convs + ELU, then
  nearest 2x upsampling (not after the last scale); a final 3x3 conv to the image channels.
  G ends in tanh (data is in [-1, 1], as for every gancli G); D's decoder has no output
  activation: its target is an image in [-1, 1] under an L1 / L2 reconstruction loss, and a linear
  output neither saturates nor caps how far EBGAN's D can push fake energies.
- encoder (D's first half): a 3x3 conv to n maps + ELU; per scale i = 1..s two 3x3 convs to
  i*n maps + ELU (the first widens from the previous scale's (i-1)*n), then a stride-2 3x3 conv
  keeping i*n maps + ELU (the paper's subsampling with stride 2; 28 -> 14 -> 7); a linear layer from
  (s*n, 8, 8) to the embedding h (no activation). As the paper's reference code (BEGAN-tensorflow's
  ``DiscriminatorCNN``); gancli 0.1 widened on the stride-2 convs instead (``Encoder``).

``D(x) -> (N, C, H, W)`` is the reconstruction Dec(Enc(x)); ``D.encode(x) -> (N, h)`` the
embedding; ``D(x, return_embedding=True) -> (reconstruction, embedding)`` gives both in one
forward (what EBGAN's pulling-away term needs, through the DDP / compiled wrapper).
Unconditional: neither paper conditions on labels, so a config with labels is refused.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from gancli.config import MODEL_REVISION, ModelConfig
from gancli.errors import GancliError


def scales(res: int) -> tuple[int, int]:
    """(side of the smallest maps, number of scales): 28 -> (7, 3), 32 -> (8, 3), 64 -> (8, 4)."""
    base = 7 if res == 28 else 8
    return base, int(math.log2(res // base)) + 1


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1)


def _refuse_labels(cfg: ModelConfig) -> None:
    if cfg.label_kind != "none":
        raise GancliError(f"model {cfg.name} is unconditional (BEGAN and EBGAN condition on no labels); "
                          "train it with --no-cond")


class Decoder(nn.Module):
    """h: (N, h) -> (N, out_channels, res, res); BEGAN's G and the second half of its D."""

    def __init__(self, res: int, h_dim: int, width: int, out_channels: int, tanh: bool):
        super().__init__()
        self.base, n_scales = scales(res)
        self.width = width
        self.fc = nn.Linear(h_dim, width * self.base * self.base)
        layers: list[nn.Module] = []
        for i in range(n_scales):
            layers += [_conv(width, width), nn.ELU(), _conv(width, width), nn.ELU()]
            if i < n_scales - 1:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.blocks = nn.Sequential(*layers)
        self.out = _conv(width, out_channels)
        self.tanh = tanh

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.fc(h).view(-1, self.width, self.base, self.base)
        x = self.out(self.blocks(x))
        return torch.tanh(x) if self.tanh else x


class Encoder(nn.Module):
    """x: (N, C, res, res) -> (N, h); widths grow linearly with depth: n, 2n, ..., s*n.

    Scale i (1..s) works at i*n maps. ``widen_on_stride=False`` (the reference code, model revision
    2): the scale's first 3x3 conv widens from (i-1)*n (n for i = 1) to i*n, and the stride-2 conv
    keeps i*n. ``True`` (gancli 0.1, revision 1): the stride-2 conv widens to (i+1)*n instead, which
    makes every 3x3 conv of a scale square and D about 16% larger (15.6M vs 13.4M parameters at 64 px,
    n = 128, h = 64)."""

    def __init__(self, res: int, in_channels: int, width: int, h_dim: int, widen_on_stride: bool = False):
        super().__init__()
        base, n_scales = scales(res)
        layers: list[nn.Module] = [_conv(in_channels, width), nn.ELU()]
        for i in range(1, n_scales + 1):
            first_in = width * i if widen_on_stride else width * max(i - 1, 1)
            layers += [_conv(first_in, width * i), nn.ELU(), _conv(width * i, width * i), nn.ELU()]
            if i < n_scales:  # subsampling: a stride-2 conv
                layers += [_conv(width * i, width * (i + 1 if widen_on_stride else i), stride=2), nn.ELU()]
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(width * n_scales * base * base, h_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x).flatten(1))


class BEGANGenerator(nn.Module):
    """G(z, y=None): z (N, z_dim) -> images (N, C, res, res) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        _refuse_labels(cfg)
        self.config = cfg
        self.decoder = Decoder(cfg.res, cfg.z_dim, cfg.ch, cfg.channels, tanh=True)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)


class BEGANDiscriminator(nn.Module):
    """The autoencoder D: D(x) = Dec(Enc(x)), x (N, C, res, res) -> a reconstruction of x."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        _refuse_labels(cfg)
        self.config = cfg
        self.encoder = Encoder(cfg.res, cfg.channels, cfg.d_ch, cfg.z_dim,
                               widen_on_stride=cfg.revision < MODEL_REVISION)
        self.decoder = Decoder(cfg.res, cfg.z_dim, cfg.d_ch, cfg.channels, tanh=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding h = Enc(x): (N, z_dim)."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_embedding: bool = False):
        """The reconstruction (N, C, H, W); with ``return_embedding`` also the embedding (N, h).
        ``y`` is unused (the model is unconditional); it keeps the common ``D(x, y)`` call."""
        h = self.encoder(x)
        recon = self.decoder(h)
        return (recon, h) if return_embedding else recon
