"""The networks of ``cnn`` (registered in cnn.py): the "standard CNN" of the SNGAN paper (Miyato et al. 2018, Table 3, appendix B.4), the
network its normalisation baselines (BN, LN, WN, WGAN-GP, none) were compared on.

At 32 px with ch = d_ch = 64 (the paper's widths), b = res / 8 = 4 (the paper's M_g):

G:  z (128) -> linear -> (N, 512, b, b) -> BN -> ReLU
      -> deconv 4x4 s2 512 -> 256, BN, ReLU -> deconv 4x4 s2 256 -> 128, BN, ReLU
      -> deconv 4x4 s2 128 -> 64, BN, ReLU -> conv 3x3 s1 64 -> C -> tanh
D:  conv 3x3 s1 64, lReLU(0.1) -> conv 4x4 s2 64 -> conv 3x3 s1 128 -> conv 4x4 s2 128
      -> conv 3x3 s1 256 -> conv 4x4 s2 256 -> conv 3x3 s1 512  (each [-> BN | LN] -> lReLU(0.1))
      -> flatten (N, 512 b b) -> linear -> 1  (+ <V y, phi(x)> with class conditioning)

Widths are ``ch * (8, 4, 2, 1)`` in G and ``d_ch * (1, 1, 2, 2, 4, 4, 8)`` in D. Every layer has a bias
(as the chainer code). The BN + ReLU after G's linear layer is the reference code's (chainer-gan-lib,
mimicry); the paper's table leaves it out.

Resolutions: 32 and 64 px keep the paper's layers with b = res / 8 (as the paper's 48 px STL-10 model
has b = 6). At 28 px (MNIST) b = 7 and there are two 2x stages: G drops its last deconv (7 -> 14 ->
28, widths 512 -> 256 -> 128, the output conv reads 2*ch channels), D drops its last stride-2 conv
(28 -> 14 -> 7, then conv 3x3 256 -> 512 at 7x7 and the linear layer on 7*7*512 features).

Conditioning (cond_mode "proj"): conditional BN in G (class embeddings, or linear maps of a multi-hot
vector), a projection head on D's flattened features, as ``dcgan --cond-mode proj``.
``--d-norm``: BN / LN after every D conv but the first, none on the linear layer; WN on every conv
and the linear layer; none with a learnable scale unless ``--d-norm-gamma`` (the paper's baselines
have none); SN (the default) is added by ``build_network``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancli.config import ModelConfig
from gancli.errors import GancliError
from gancli.layers import ConditionalBatchNorm2d, ProjectionHead
from gancli.layers.mbstd import MinibatchStd
from gancli.layers.norm import apply_weight_norm, feature_norm

#: resolution -> (b, number of 2x stages)
CNN_BOTTOM = {28: (7, 2), 32: (4, 3), 64: (8, 3)}
RESOLUTIONS = tuple(CNN_BOTTOM)
LEAK = 0.1  # LeakyReLU slope of the paper's D


def _bottom(res: int) -> tuple[int, int]:
    if res not in CNN_BOTTOM:
        raise GancliError(f"model cnn supports resolutions {', '.join(map(str, RESOLUTIONS))}, not {res}")
    return CNN_BOTTOM[res]


def _cbn(cfg: ModelConfig) -> tuple[str, int]:
    if cfg.label_kind == "class":
        return "class", cfg.n_classes
    if cfg.label_kind == "attrs":
        return "vector", cfg.n_attrs
    return "none", 0


class CNNGenerator(nn.Module):
    """G(z, y) -> (N, channels, res, res) in [-1, 1]; z (N, z_dim), y class indices / multi-hot / None."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.bottom, stages = _bottom(cfg.res)
        widths = [cfg.ch * m for m in (8, 4, 2, 1)[: stages + 1]]
        kind, cond_dim = _cbn(cfg)
        self.w0 = widths[0]
        self.linear = nn.Linear(cfg.z_dim, widths[0] * self.bottom**2)
        self.bn0 = ConditionalBatchNorm2d(widths[0], kind, cond_dim)
        self.deconvs = nn.ModuleList(nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1) for i in range(stages))
        self.bns = nn.ModuleList(ConditionalBatchNorm2d(widths[i + 1], kind, cond_dim) for i in range(stages))
        self.conv_out = nn.Conv2d(widths[-1], cfg.channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.w0, self.bottom, self.bottom)
        h = F.relu(self.bn0(h, y))
        for deconv, bn in zip(self.deconvs, self.bns):
            h = F.relu(bn(deconv(h), y))
        return torch.tanh(self.conv_out(h))


class CNNDiscriminator(nn.Module):
    """D(x, y) -> (N,) logits; x (N, channels, res, res) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        bottom, stages = _bottom(cfg.res)
        norm = cfg.d_norm if cfg.d_norm in ("bn", "ln") else "none"
        # (out width as a multiple of d_ch, kernel, stride): the paper's seven convs
        layers = [(1, 3, 1), (1, 4, 2), (2, 3, 1), (2, 4, 2), (4, 3, 1), (4, 4, 2), (8, 3, 1)]
        if stages == 2:
            del layers[5]  # 28 px: no third stride-2 conv
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        in_ch = cfg.channels
        for i, (mult, k, stride) in enumerate(layers):
            out_ch = cfg.d_ch * mult
            self.convs.append(nn.Conv2d(in_ch, out_ch, k, stride, 1))
            self.norms.append(feature_norm("none" if i == 0 else norm, out_ch, gamma=bool(cfg.d_norm_gamma)))
            in_ch = out_ch
        self.mbstd = MinibatchStd(cfg.mbstd) if cfg.mbstd else None  # (before the head: one feature more)
        self.head = ProjectionHead(in_ch * bottom * bottom + (1 if cfg.mbstd else 0), cfg.label_kind, cfg.n_labels)
        if cfg.d_norm == "wn":
            apply_weight_norm(self, gamma=bool(cfg.d_norm_gamma))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (N, 8 d_ch b b), the flattened output of the last conv (after its lReLU)."""
        h = x
        for conv, norm in zip(self.convs, self.norms):
            h = F.leaky_relu(norm(conv(h)), LEAK)
        return h.flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        return self.head(self.mbstd(h) if self.mbstd is not None else h, y)
