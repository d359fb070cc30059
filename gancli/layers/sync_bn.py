"""Cross-replica batch norm (BigGAN's "cross-replica BN"; torch's SyncBatchNorm, which runs on
CUDA only): under DistributedDataParallel every rank normalises with the statistics of the global
batch, so G's BN sees what one process with the whole batch would see.

    mean = sum_r sum(x_r) / N,   var = sum_r sum(x_r^2) / N - mean^2,   N = sum_r N_r * H * W

The per-rank sums go through one differentiable all-reduce (``torch.distributed.nn``), so the
backward pass sums the gradients of the statistics over ranks as well. Outside a process group,
or in eval mode, it is plain ``BatchNorm2d`` (running statistics: the same buffers, so checkpoints
load either way).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class CrossReplicaBatchNorm2d(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _distributed()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        xf = x.float()
        count = torch.full((1,), x.numel() / c, device=x.device, dtype=torch.float32)
        stats = all_reduce(torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c: 2 * c] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), m)
                unbiased = var.detach() * n / (n - 1).clamp_min(1.0)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        y = (xf - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def convert_cross_replica(net: nn.Module) -> nn.Module:
    """Replaces every ``nn.BatchNorm2d`` of ``net`` in place by a CrossReplicaBatchNorm2d that holds
    the very same parameter and buffer tensors (an optimizer built before keeps working; the
    state-dict keys are unchanged); returns ``net``."""
    for name, child in list(net.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = CrossReplicaBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats)
            for key, value in list(child.named_parameters(recurse=False)) + list(child.named_buffers(recurse=False)):
                setattr(new, key, value)
            new.train(child.training)
            setattr(net, name, new)
        else:
            convert_cross_replica(child)
    return net
