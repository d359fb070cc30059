"""DCGAN (Radford et al. 2016) with the conditioning of cGAN (Mirza & Osindero 2014).

G: [z, onehot(y)] -> ConvT kxk (1 -> b px) -> BN -> ReLU -> (ConvT 4x4 s2 -> BN -> ReLU) x n
   -> ConvT 4x4 s2 -> tanh. Widths halve as resolution doubles: ch * min(8, 2^k).
D: conv 4x4 s2 -> LeakyReLU(0.2) [-> concat onehot(y) as constant feature maps] -> (conv 4x4 s2
   [-> BN | LN] -> LeakyReLU) x n down to b x b -> flatten -> linear (+ projection term with cond_mode "proj").
The bottom size b is 4 (res a power of two) or 7 at 28 px (MNIST's size: 7 -> 14 -> 28; G's first
ConvT has a 7x7 kernel). cond_mode "concat" is the original cGAN conditioning; "proj" uses CBN in G
and a projection D. ``--d-norm bn|ln`` puts that norm after every D conv but the first; ``wn``
weight-normalises every conv and linear layer of D; ``sn`` is added by ``build_network``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gancli.config import ModelConfig
from gancli.errors import GancliError
from gancli.layers import ConditionalBatchNorm2d, DCGANDown, DCGANUp, ProjectionHead
from gancli.layers.mbstd import MinibatchStd
from gancli.layers.norm import apply_weight_norm


def bottom_size(res: int) -> tuple[int, int]:
    """(b, n): the smallest feature map b x b and the number n of 2x resamplings from b to ``res``
    (b = 4, or 7 at 28 px: 28 = 7 * 2^2)."""
    for b in (4, 7):
        n = round(math.log2(res / b))
        if n >= 1 and b * 2**n == res:
            return b, n
    raise GancliError(f"resolution {res} is not 4 or 7 times a power of two")


def label_vector(y: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Class indices -> one-hot float (N, n_classes); soft class vectors and multi-hot attributes
    pass through as float."""
    if cfg.label_kind == "class" and not y.is_floating_point():
        return F.one_hot(y, cfg.n_classes).float()
    return y.float()


class DCGANGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        bottom, n_up = bottom_size(cfg.res)
        widths = [cfg.ch * min(8, 2 ** (n_up - 1 - j)) for j in range(n_up)]
        self.concat = cfg.label_kind != "none" and cfg.cond_mode == "concat"
        z_in = cfg.z_dim + (cfg.n_labels if self.concat else 0)
        kind, cond_dim = "none", 0
        if cfg.label_kind != "none" and not self.concat:
            kind, cond_dim = ("class", cfg.n_classes) if cfg.label_kind == "class" else ("vector", cfg.n_attrs)
        self.input = nn.ConvTranspose2d(z_in, widths[0], bottom, 1, 0, bias=False)
        self.bn0 = ConditionalBatchNorm2d(widths[0], kind, cond_dim)
        self.ups = nn.ModuleList(DCGANUp(widths[j], widths[j + 1], kind, cond_dim) for j in range(n_up - 1))
        self.out = nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.concat:
            z = torch.cat([z, label_vector(y, self.config)], dim=1)
            y = None
        c = None if self.concat else y
        h = F.relu(self.bn0(self.input(z[:, :, None, None]), c))
        for up in self.ups:
            h = up(h, c)
        return torch.tanh(self.out(h))


class DCGANDiscriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        bottom, n_down = bottom_size(cfg.res)
        widths = [cfg.d_ch * min(8, 2**i) for i in range(n_down)]
        norm = cfg.d_norm if cfg.d_norm in ("bn", "ln") else "none"
        self.concat = cfg.label_kind != "none" and cfg.cond_mode == "concat"
        extra = cfg.n_labels if self.concat else 0
        self.downs = nn.ModuleList()
        in_ch = cfg.channels
        for i, w in enumerate(widths):
            self.downs.append(DCGANDown(in_ch + (extra if i == 1 else 0), w, norm="none" if i == 0 else norm,
                                        norm_gamma=bool(cfg.d_norm_gamma)))
            in_ch = w
        if n_down == 1 and self.concat:
            raise ValueError("dcgan needs at least two D layers for concat conditioning")
        features = widths[-1] * bottom * bottom
        self.mbstd = MinibatchStd(cfg.mbstd) if cfg.mbstd else None  # (before the head: one feature more)
        self.head = ProjectionHead(features + (1 if cfg.mbstd else 0), "none" if self.concat else cfg.label_kind,
                                   cfg.n_labels)
        if cfg.d_norm == "wn":
            apply_weight_norm(self, gamma=bool(cfg.d_norm_gamma))

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for i, down in enumerate(self.downs):
            if i == 1 and self.concat:
                maps = label_vector(y, self.config)[:, :, None, None].expand(-1, -1, *h.shape[2:])
                h = torch.cat([h, maps], dim=1)
            h = down(h)
        return h.flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x, y)
        if self.mbstd is not None:
            h = self.mbstd(h)
        return self.head(h, None if self.concat else y)
