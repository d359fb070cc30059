"""Cross-replica batch norm (BigGAN's "cross-replica BN"; torch's SyncBatchNorm, which runs on
CUDA only): under DistributedDataParallel every rank normalises with the statistics of the global
batch, so G's BN sees what one process with the whole batch would see.

Rank r holds x_r: (N_r, C, H, W), n_r = N_r * H * W values per channel. Per channel it shifts
its values by a constant k_r (its first value) and computes, in two passes, the mean d_r of
x_r - k_r and the centred sum of squares M2_r = sum((x_r - k_r - d_r)^2). All ranks gather the
(R, 3C + 1) table of (n_r, k_r, d_r, M2_r) and combine it with Chan et al.'s parallel algorithm
(1979), rank means taken relative to k_0, the shift of the first rank holding values
(rank 0 unless its batch is empty): D_r = m_r - k_0 = (k_r - k_0) + d_r,

    N = sum_r n_r,   D = sum_r n_r D_r / N,   M2 = sum_r M2_r + sum_r n_r (D_r - D)^2,
    mean = k_0 + D,  var = M2 / N,
    y_r = ((x_r - k_r) - (k_0 - k_r + D)) / sqrt(var + eps) * weight + bias

No step subtracts two large, nearly equal rounded numbers (x_r - k_r and k_r - k_0 are exact
when |mean| >> std), so float32 keeps its accuracy however far the mean sits from 0; the
textbook E[x^2] - mean^2 loses all of it near |mean| / std ~ 3000. The gather is differentiable
(``_AllGather``: its backward sums the table's gradient over ranks and keeps this rank's row), so
the backward pass sums the gradients of the statistics over ranks as well. Running statistics
take the unbiased variance M2 / (N - 1). Outside a process group, or in eval mode, it is plain
``BatchNorm2d`` (running statistics: the same buffers, so checkpoints load either way).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _AllGather(torch.autograd.Function):
    """local: (K,) on every rank of the default group -> (R, K), row r from rank r. Every rank's
    output feeds the loss, so the gradient of this rank's input is the sum over ranks of the
    gradient of its row: an all-reduce of the (R, K) gradient, then this rank's row."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:
        local = local.contiguous()
        rows = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(rows, local)
        return torch.stack(rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()  # all_reduce works in place; autograd may still hold grad
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


def _global_stats(xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """xf: (N_r, C, H, W) float32 on this rank -> (x_r - k_r, mean - k_r, mean, var, N): the shifted
    input (N_r, C, H, W), then (C,) each (var biased) and the scalar count of the global batch,
    combined with Chan et al.'s formula (module docstring)."""
    c = xf.shape[1]
    count = torch.full((1,), xf.numel() / c, device=xf.device, dtype=torch.float32)
    shift = xf[0, :, 0, 0].detach() if xf.shape[0] else xf.new_zeros(c)  # k_r, a constant
    shifted = xf - shift[None, :, None, None]
    d_mean = shifted.sum((0, 2, 3)) / count.clamp_min(1.0)  # a rank with an empty batch adds nothing
    m2_r = (shifted - d_mean[None, :, None, None]).square().sum((0, 2, 3))
    table = _AllGather.apply(torch.cat([count, shift, d_mean, m2_r]))  # (R, 3C + 1)
    counts, shifts, d_means, m2s = table[:, :1], table[:, 1: c + 1], table[:, c + 1: 2 * c + 1], table[:, 2 * c + 1:]
    n = counts.sum()
    first = (counts[:, 0] > 0).int().argmax().view(1)  # "rank 0" below: the first rank with values
    shift_0 = shifts.index_select(0, first)[0]  # (an index tensor, not .item(): no host sync)
    rel_means = (shifts - shift_0) + d_means  # D_r = m_r - k_0; k_r - k_0 is exact when |mean| >> std
    rel_mean = (counts * rel_means).sum(0) / n
    m2 = m2s.sum(0) + (counts * (rel_means - rel_mean).square()).sum(0)
    return shifted, (shift_0 - shift) + rel_mean, shift_0 + rel_mean, m2 / n, n


class CrossReplicaBatchNorm2d(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _distributed()):
            return super().forward(x)
        xf = x.float()
        shifted, centre, mean, var, n = _global_stats(xf)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), m)
                unbiased = var.detach() * n / (n - 1).clamp_min(1.0)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        y = (shifted - centre[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.weight is not None:  # D's baseline BN has an offset but no scale (gancli.layers.norm)
            y = y * self.weight[None, :, None, None]
        if self.bias is not None:
            y = y + self.bias[None, :, None, None]
        return y.to(x.dtype)


def convert_cross_replica(net: nn.Module) -> nn.Module:
    """Replaces every ``nn.BatchNorm2d`` of ``net`` in place by a CrossReplicaBatchNorm2d that holds
    the very same parameter and buffer tensors (an optimizer built before keeps working; the
    state-dict keys are unchanged); returns ``net``."""
    for name, child in list(net.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = CrossReplicaBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats)
            for key in ("weight", "bias"):
                if child.affine and getattr(child, key) is None:  # a BN without a learnable scale keeps none
                    del new._parameters[key]
                    new.register_parameter(key, None)
            for key, value in list(child.named_parameters(recurse=False)) + list(child.named_buffers(recurse=False)):
                setattr(new, key, value)
            new.train(child.training)
            setattr(net, name, new)
        else:
            convert_cross_replica(child)
    return net
