"""Self-attention block of SAGAN (Zhang et al. 2019), as in the official SAGAN / BigGAN code.

For x: (N, C, H, W), with L = H*W query positions and S key positions (S = L/4 with pooling):

    q = theta(x)            (N, L, C/8)       1x1 conv
    k = maxpool(phi(x))     (N, S, C/8)       1x1 conv, optional 2x2 max-pool
    v = maxpool(g(x))       (N, S, C/2)       1x1 conv, optional 2x2 max-pool
    beta = softmax(q k^T)   (N, L, S)         softmax over keys, no 1/sqrt(d) scaling
    o = out(beta v)         (N, C, H, W)      1x1 conv C/2 -> C
    y = x + gamma * o       gamma is learnable and starts at 0, so the block starts as identity.

All four convs are spectrally normalised by the model's SN helper (they are ordinary nn.Conv2d).
``forward`` goes through ``scaled_dot_product_attention(scale=1.0)``: for large maps on the fused
low-memory kernel (q and k zero-padded to the values' width, one head), for small ones on its math
backend.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    #: above this size of the (N, L, S) float32 attention matrix the block uses the fused kernel
    FUSED_ABOVE_BYTES = 32 * 2**20

    def __init__(self, channels: int, pool: bool = True, fused: bool | None = None):
        super().__init__()
        self.fused = fused  # None: choose by size (see forward)
        if channels % 8:
            raise ValueError(f"self-attention needs channels divisible by 8, got {channels}")
        self.channels = channels
        self.pool = pool
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.out = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        q = self.theta(x).flatten(2).transpose(1, 2)  # (N, L, C/8)
        k = self.phi(x)
        v = self.g(x)
        if self.pool:
            k = F.max_pool2d(k, 2)
            v = F.max_pool2d(v, 2)
        return q, k.reshape(n, k.shape[1], -1).transpose(1, 2), v.reshape(n, v.shape[1], -1).transpose(1, 2)

    def _use_fused(self, n: int, queries: int, keys: int) -> bool:
        if self.fused is not None:
            return self.fused
        return n * queries * keys * 4 > self.FUSED_ABOVE_BYTES

    @staticmethod
    def _softmax_attention(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return torch.softmax(q @ k.transpose(1, 2), dim=-1)

    def forward(self, x: torch.Tensor, return_attn: bool = False):
        n, c, h, w = x.shape
        q, k, v = self._qkv(x)
        if return_attn:
            attn = self._softmax_attention(q, k)
            o = attn @ v  # (N, L, C/2)
        elif not self._use_fused(n, q.shape[1], k.shape[1]):
            # small maps: one SDPA call with the C/2-wide values; SDPA computes softmax(q k^T) once
            # on its math backend, which is faster than the fused kernel at 16x16 and 32x32 maps
            # (benchmarks/attention.py) while the attention matrix stays small
            o = F.scaled_dot_product_attention(q, k, v, scale=1.0)
            attn = None
        else:
            # The fused low-memory kernel needs one head size for q, k and v: q and k (C/8 wide) are
            # zero-padded to the values' C/2. The extra zeros add exactly 0 to every q.k, so the
            # logits, the softmax and the output are those of the unpadded block, and the softmax is
            # computed once over the full-width values (splitting the values into 4 heads of C/8
            # computed it 4 times, 2.4-2.7x slower on CPU at 64x64 maps; benchmarks/attention.py).
            # The CPU flash kernel also needs a unit stride on the last dimension, which the
            # (N, C, L) -> (N, L, C) transposes above do not give: without .contiguous() SDPA
            # silently falls back to the explicit math path (F.pad returns a contiguous tensor).
            width = v.shape[-1] - q.shape[-1]
            qp = F.pad(q, (0, width)).unsqueeze(1)  # (N, 1, L, C/2)
            kp = F.pad(k, (0, width)).unsqueeze(1)  # (N, 1, S, C/2)
            o = F.scaled_dot_product_attention(qp, kp, v.contiguous().unsqueeze(1), scale=1.0).squeeze(1)
            attn = None
        o = self.out(o.transpose(1, 2).reshape(n, c // 2, h, w))
        y = x + self.gamma * o
        return (y, attn) if return_attn else y
