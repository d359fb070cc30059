"""CycleGAN's networks (Zhu et al. 2017, appendix 7.2), as in junyanz/pytorch-CycleGAN-and-pix2pix.

Not registered as a model yet: the ``cyclegan`` method will build two of each (G_AB, G_BA, D_A, D_B).

Generator (Johnson et al. 2016), with ``ngf`` = 64 and n_blocks = 9 (256 px) or 6 (128 px):

    c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3
    c7s1-k: ReflectionPad(3), 7x7 conv (stride 1) to k maps, IN, ReLU   (the last: to out_ch, tanh, no IN)
    dk:     3x3 conv stride 2 pad 1, IN, ReLU                           (halves H, W)
    Rk:     x + IN(conv3x3(pad1(ReLU(IN(conv3x3(pad1(x)))))))          (reflection padding)
    uk:     3x3 transposed conv stride 2 pad 1 output_padding 1, IN, ReLU   (doubles H, W)

    x: (N, in_ch, H, W) -> (N, out_ch, H, W) in [-1, 1], H and W multiples of 4.
    IN has no affine and no running statistics; every conv keeps its bias (the reference's
    ``use_bias`` is true under instance norm). Parameters at ngf = 64, 3 -> 3 channels:
    11,378,179 with 9 blocks, 7,837,699 with 6.

70x70 PatchGAN discriminator (Isola et al. 2017), ``ndf`` = 64, n_layers = 3:

    C64 (no norm), C128, C256: 4x4 conv stride 2 pad 1, norm, LeakyReLU(0.2)
    C512:                      4x4 conv stride 1 pad 1, norm, LeakyReLU(0.2)
    output:                    4x4 conv stride 1 pad 1 to 1 map (no activation: LSGAN's targets)

    x: (N, in_ch, H, W) -> (N, 1, H', W') patch logits, H' = H / 2^n_layers - 2
    (256 -> 30, 128 -> 14, 64 -> 6); each output sees a 70x70 receptive field at n_layers = 3.

``norm``: ``instance`` (default; convs keep a bias, 2,764,737 parameters), ``bn`` (``nn.BatchNorm2d``;
the normed convs drop their bias, as the reference does), ``none`` and ``sn`` (no feature norm; every
conv keeps its bias, while the reference's ``none`` drops it, leaving those convs bias-free with
nothing after them; ``sn`` adds ``W / sigma(W)`` on every conv, Miyato et al. 2018).

Weights: N(0, 0.02), biases 0 (the reference's ``--init_type normal``, gain 0.02); BN's scale
N(1, 0.02), shift 0, as the reference initialises it. Spectral norm wraps the initialised weights.
"""
from __future__ import annotations

import torch
from torch import nn

from gancli.layers import ReflectResBlock, apply_spectral_norm, feature_norm, init_weights, instance_norm

PATCH_D_NORMS = ("instance", "bn", "none", "sn")


def init_cyclegan(net: nn.Module) -> nn.Module:
    """The reference's ``normal`` init: convs N(0, 0.02), biases 0, BN scale N(1, 0.02) and shift 0."""
    init_weights(net, "normal")
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


class ResnetGenerator(nn.Module):
    """x: (N, in_ch, H, W) -> (N, out_ch, H, W); see the module docstring for the layer list."""

    def __init__(self, in_ch: int, out_ch: int, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, not {n_blocks}")
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7, bias=True), instance_norm(ngf),
                                   nn.ReLU(True)]
        width = ngf
        for _ in range(2):  # d128, d256
            layers += [nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=True), instance_norm(2 * width),
                       nn.ReLU(True)]
            width *= 2
        layers += [ReflectResBlock(width) for _ in range(n_blocks)]
        for _ in range(2):  # u128, u64
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1, bias=True),
                       instance_norm(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_ch, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_cyclegan(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """x: (N, in_ch, H, W) -> (N, 1, H / 2^n_layers - 2, W / 2^n_layers - 2) patch logits."""

    def __init__(self, in_ch: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        if norm not in PATCH_D_NORMS:
            raise ValueError(f"unknown PatchGAN norm {norm!r}; choose one of {PATCH_D_NORMS}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, not {n_layers}")
        self.norm = norm
        bias = norm != "bn"  # a bias before BN is cancelled by its mean and replaced by its shift

        def normed(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            layer = instance_norm(c_out) if norm == "instance" else feature_norm(norm, c_out)
            return [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=bias), layer, nn.LeakyReLU(0.2, True)]

        layers: list[nn.Module] = [nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = ndf
        for n in range(1, n_layers):  # C128, C256 (widths capped at 8 * ndf)
            layers += normed(width, ndf * min(2 ** n, 8), 2)
            width = ndf * min(2 ** n, 8)
        layers += normed(width, ndf * min(2 ** n_layers, 8), 1)  # C512
        layers.append(nn.Conv2d(ndf * min(2 ** n_layers, 8), 1, 4, 1, 1))
        self.net = nn.Sequential(*[m for m in layers if not isinstance(m, nn.Identity)])
        init_cyclegan(self)
        if norm == "sn":
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``y`` is unused (no labels); it keeps the common ``D(x, y)`` call of gancli's tools."""
        return self.net(x)


__all__ = ["ResnetGenerator", "PatchDiscriminator", "PATCH_D_NORMS", "init_cyclegan"]
