"""ResNet generator and discriminator shared by SNGAN, SAGAN and BigGAN.

Widths are multiples of ``ch`` (G_WIDTHS, D_ARCH): at 32 px SNGAN's CIFAR networks (G: 4*ch = 256,
D: 2*ch = 128 for ch = 64); at 64 px SNGAN's / mimicry's (G 16*ch at 4x4 halving to ch at 64x64, D
ch doubling to 16*ch; BigGAN-PyTorch's 64 px G would end at 2*ch); at 128 and 256 px
BigGAN-PyTorch's tables (at 128 px also SNGAN's ImageNet networks).

G:  z -> linear -> (N, w0, 4, 4) -> GBlock x n (each doubles H, W) [+ attention] -> BN -> ReLU
      -> conv3x3 -> tanh -> (N, channels, res, res) in [-1, 1]
D:  x -> DBlock x m (first one "optimized") [+ attention] -> ReLU -> sum over H, W -> (N, F)
      -> projection head -> (N,) logits
--d-norm: bn / ln inside every D block but the first (before each ReLU of the residual branch, as the
WGAN-GP ResNet critic), wn on every conv and linear layer of D; sn is added by ``build_network``.
BigGAN's CBN maps are its own: SN'd, orthogonally initialised linear maps (``ConditionalBatchNorm2d``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancli.config import ModelConfig
from gancli.layers import DBlock, GBlock, ProjectionHead, SelfAttention
from gancli.layers.cbn import lookup
from gancli.layers.mbstd import MinibatchStd
from gancli.layers.norm import apply_weight_norm
from gancli.layers.spectral import exempt_from_sn

# resolution -> (G widths from 4x4 up to res, as multiples of ch)
G_WIDTHS = {32: [4, 4, 4, 4], 64: [16, 8, 4, 2, 1], 128: [16, 16, 8, 4, 2, 1], 256: [16, 16, 8, 8, 4, 2, 1]}
# resolution -> (D block output widths, downsample flags)
D_ARCH = {
    32: ([2, 2, 2, 2], [True, True, False, False]),
    64: ([1, 2, 4, 8, 16], [True, True, True, True, False]),
    128: ([1, 2, 4, 8, 16, 16], [True, True, True, True, True, False]),
    256: ([1, 2, 4, 8, 8, 16, 16], [True, True, True, True, True, True, False]),
}


def split_sizes(total: int, parts: int) -> list[int]:
    """Sizes of ``parts`` near-equal chunks of ``total`` (the first ones one larger if uneven)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class ResNetGenerator(nn.Module):
    """G(z, y): z (N, z_dim) float, y int64 (N,) class indices / float (N, n_classes) soft one-hot /
    float (N, k) multi-hot / None.

    ``biggan=True`` adds BigGAN's shared label embedding and hierarchical z: z is cut into one chunk
    for the input linear plus one per block, and each block's CBN sees [shared(y), z_chunk] through
    BigGAN's CBN maps (initialised and spectrally normalised with G; ``learned_cbn_maps=False``
    gives the zero-initialised, un-normalised maps of the other models instead)."""

    def __init__(self, cfg: ModelConfig, biggan: bool = False, learned_cbn_maps: bool | None = None):
        super().__init__()
        learned = biggan if learned_cbn_maps is None else learned_cbn_maps
        self.config = cfg
        self.biggan = biggan
        widths = [w * cfg.ch for w in G_WIDTHS[cfg.res]]
        n_blocks = len(widths) - 1
        kind = cfg.label_kind
        if biggan:
            self.shared = None
            if kind == "class":
                self.shared = nn.Embedding(cfg.n_classes, cfg.shared_dim)
            elif kind == "attrs":
                self.shared = nn.Linear(cfg.n_attrs, cfg.shared_dim, bias=False)
            if self.shared is not None:
                exempt_from_sn(self.shared)  # BigGAN leaves the shared embedding plain
            self.z_sizes = split_sizes(cfg.z_dim, n_blocks + 1) if cfg.hier else [cfg.z_dim]
            shared = cfg.shared_dim if self.shared is not None else 0
            chunk = self.z_sizes[1:] if cfg.hier else [0] * n_blocks
            cond_dims = [shared + c for c in chunk]
            cbn = [("vector", d) if d > 0 else ("none", 0) for d in cond_dims]
            self.linear = nn.Linear(self.z_sizes[0], widths[0] * 16)
        else:
            if kind == "class":
                cbn = [("class", cfg.n_classes)] * n_blocks
            elif kind == "attrs":
                cbn = [("vector", cfg.n_attrs)] * n_blocks
            else:
                cbn = [("none", 0)] * n_blocks
            self.linear = nn.Linear(cfg.z_dim, widths[0] * 16)
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        for i in range(n_blocks):
            kind, dim = cbn[i]
            self.blocks.append(GBlock(widths[i], widths[i + 1], kind, dim,
                                      learned_cbn_maps=learned and kind == "vector"))
            out_res = 4 * 2 ** (i + 1)
            if out_res in cfg.attn_res:
                self.attn[str(i)] = SelfAttention(widths[i + 1], pool=cfg.attn_pool)
        self.bn = nn.BatchNorm2d(widths[-1])
        self.conv_out = nn.Conv2d(widths[-1], cfg.channels, 3, padding=1)
        self.w0 = widths[0]

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, return_attn: bool = False):
        attn_maps = {}
        if self.biggan:
            zs = torch.split(z, self.z_sizes, dim=1)
            h = self.linear(zs[0])
            emb = lookup(self.shared, y) if self.shared is not None else None
            conds = []
            for i in range(len(self.blocks)):
                parts = ([emb] if emb is not None else []) + ([zs[i + 1]] if self.config.hier else [])
                conds.append(torch.cat(parts, dim=1) if parts else None)
        else:
            h = self.linear(z)
            conds = [y] * len(self.blocks)
        h = h.view(z.shape[0], self.w0, 4, 4)
        for i, block in enumerate(self.blocks):
            h = block(h, conds[i])
            if str(i) in self.attn:
                if return_attn:
                    h, attn_maps[f"G.attn{i}"] = self.attn[str(i)](h, return_attn=True)
                else:
                    h = self.attn[str(i)](h)
        x = torch.tanh(self.conv_out(F.relu(self.bn(h), inplace=True)))
        return (x, attn_maps) if return_attn else x


class ResNetDiscriminator(nn.Module):
    """D(x, y) -> (N,) logits; x (N, channels, res, res) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        mults, downs = D_ARCH[cfg.res]
        widths = [m * cfg.d_ch for m in mults]
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        in_ch, res = cfg.channels, cfg.res
        placed: set[int] = set()
        for i, (w, down) in enumerate(zip(widths, downs)):
            self.blocks.append(DBlock(in_ch, w, down=down, first=(i == 0), norm=cfg.d_norm or "none",
                                      norm_gamma=bool(cfg.d_norm_gamma)))
            in_ch = w
            res = res // 2 if down else res
            if res in cfg.attn_res and res not in placed:  # after the first block reaching res
                self.attn[str(i)] = SelfAttention(w, pool=cfg.attn_pool)
                placed.add(res)
        self.mbstd = MinibatchStd(cfg.mbstd) if cfg.mbstd else None  # (before the head: one feature more)
        self.head = ProjectionHead(widths[-1] + (1 if cfg.mbstd else 0), cfg.label_kind, cfg.n_labels)
        if cfg.d_norm == "wn":
            apply_weight_norm(self, gamma=bool(cfg.d_norm_gamma))

    def features(self, x: torch.Tensor, return_attn: bool = False):
        """phi(x): (N, F) after the blocks, ReLU and global sum pooling."""
        attn_maps = {}
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if str(i) in self.attn:
                if return_attn:
                    h, attn_maps[f"D.attn{i}"] = self.attn[str(i)](h, return_attn=True)
                else:
                    h = self.attn[str(i)](h)
        h = F.relu(h).sum(dim=(2, 3))
        return (h, attn_maps) if return_attn else h

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_attn: bool = False):
        if return_attn:
            h, maps = self.features(x, return_attn=True)
            return self.head(self._with_mbstd(h), y), maps
        return self.head(self._with_mbstd(self.features(x)), y)

    def _with_mbstd(self, h: torch.Tensor) -> torch.Tensor:
        return self.mbstd(h) if self.mbstd is not None else h
