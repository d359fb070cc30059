"""Residual blocks of SNGAN / BigGAN and the plain blocks of DCGAN.

ResNet G block (pre-activation, upsampling):   x: (N, C_in, H, W) -> (N, C_out, 2H, 2W)
    h = conv2(relu(bn2(conv1(up(relu(bn1(x, c)))), c)));  y = h + conv_sc(up(x))
ResNet D block (downsampling by 2x2 average pooling when ``down``):
    h = pool(conv2(relu(conv1(relu(x)))));  y = h + pool(conv_sc(x))
The first D block is the "optimized" one of SNGAN: no ReLU before its first conv, and the shortcut
pools before its 1x1 conv. DCGAN: transposed conv + BN + ReLU in G, strided conv + LeakyReLU in D.

With ``--d-norm bn|ln`` every D block but the first normalises before each ReLU of its residual
branch (the placement of the WGAN-GP ResNet critic's layer norm; the shortcut stays plain):
    h = pool(conv2(relu(norm2(conv1(relu(norm1(x)))))))
Xavier init (SNGAN) gives the 3x3 convs gain sqrt(2) and the 1x1 shortcuts gain 1.

The resampling is folded into the convolutions (``gancli.layers.resample``: exact, 2.25x fewer
FLOPs for those convs): up + conv1 is one transposed conv, conv2 + pool one strided 4x4 conv, and
the 1x1 shortcut runs at the lower resolution (it commutes with nearest upsampling and with average
pooling). Parameters, state dicts and spectral normalization are those of the blocks above.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancli.layers import resample
from gancli.layers.cbn import ConditionalBatchNorm2d
from gancli.layers.init import RELU_GAIN, set_init_gain
from gancli.layers.norm import feature_norm


class GBlock(nn.Module):
    """``learned_cbn_maps``: BigGAN's CBN maps (see ``ConditionalBatchNorm2d``)."""

    residual = True  # a sum of a main path and a shortcut (sn-check: outside the product bound)

    def __init__(self, in_ch: int, out_ch: int, cbn_kind: str = "none", cond_dim: int = 0,
                 learned_cbn_maps: bool = False):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_ch, cbn_kind, cond_dim, learned_maps=learned_cbn_maps)
        self.conv1 = set_init_gain(nn.Conv2d(in_ch, out_ch, 3, padding=1), RELU_GAIN)
        self.bn2 = ConditionalBatchNorm2d(out_ch, cbn_kind, cond_dim, learned_maps=learned_cbn_maps)
        self.conv2 = set_init_gain(nn.Conv2d(out_ch, out_ch, 3, padding=1), RELU_GAIN)
        self.conv_sc = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.bn1(x, c), inplace=True)  # in place: the norm's output is fresh and unsaved
        if resample.folded():
            h = resample.up_conv3x3(h, self.conv1.weight, self.conv1.bias)
            sc = F.interpolate(self.conv_sc(x), scale_factor=2, mode="nearest")
        else:
            h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
            sc = self.conv_sc(F.interpolate(x, scale_factor=2, mode="nearest"))
        return self.conv2(F.relu(self.bn2(h, c), inplace=True)).add_(sc)  # a conv does not save its output


class DBlock(nn.Module):
    """``norm``: D's feature normalisation (``--d-norm``); BN / LN go into every block but the first,
    with a learnable scale only if ``norm_gamma``."""

    residual = True  # a sum of a main path and a shortcut (sn-check: outside the product bound)

    def __init__(self, in_ch: int, out_ch: int, down: bool = True, first: bool = False, norm: str = "none",
                 norm_gamma: bool = True):
        super().__init__()
        self.down = down
        self.first = first
        self.norm1 = feature_norm("none" if first else norm, in_ch, gamma=norm_gamma)
        self.conv1 = set_init_gain(nn.Conv2d(in_ch, out_ch, 3, padding=1), RELU_GAIN)
        self.norm2 = feature_norm("none" if first else norm, out_ch, gamma=norm_gamma)
        self.conv2 = set_init_gain(nn.Conv2d(out_ch, out_ch, 3, padding=1), RELU_GAIN)
        self.learnable_sc = first or down or in_ch != out_ch
        if self.learnable_sc:
            self.conv_sc = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the first ReLU reads x (kept for the shortcut), the second the fresh output of conv1 / norm2
        h = F.relu(self.norm2(self.conv1(x if self.first else F.relu(self.norm1(x)))), inplace=True)
        fold = resample.folded()
        if self.down and fold:
            h = resample.conv3x3_pool(h, self.conv2.weight, self.conv2.bias)
        else:
            h = self.conv2(h)
            h = F.avg_pool2d(h, 2) if self.down else h
        # h is the fresh output of a conv or a pooling, which backward does not need: add in place
        if not self.learnable_sc:
            return h.add_(x)
        if self.down and (fold or self.first):  # pooling commutes with the 1x1 conv: pool first
            return h.add_(self.conv_sc(F.avg_pool2d(x, 2)))
        sc = self.conv_sc(x)
        return h.add_(F.avg_pool2d(sc, 2) if self.down else sc)


class DCGANUp(nn.Module):
    """(N, C_in, H, W) -> (N, C_out, 2H, 2W): ConvTranspose 4x4 stride 2, BN (or CBN), ReLU."""

    def __init__(self, in_ch: int, out_ch: int, cbn_kind: str = "none", cond_dim: int = 0):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False)
        self.bn = ConditionalBatchNorm2d(out_ch, cbn_kind, cond_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x), c))


class DCGANDown(nn.Module):
    """(N, C_in, H, W) -> (N, C_out, H/2, W/2): conv 4x4 stride 2 [-> BN | LN] -> LeakyReLU(0.2).

    ``norm`` is D's feature normalisation (``--d-norm``; the D builds the first layer with "none"),
    with a learnable scale only if ``norm_gamma``. With spectral normalization (the default) there
    is none, as in SNGAN's "standard CNN"."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "none", norm_gamma: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1)
        self.norm = feature_norm(norm, out_ch, gamma=norm_gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.norm(self.conv(x)), 0.2)
