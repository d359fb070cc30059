"""torchrun / DistributedDataParallel setup: ``torchrun --nproc-per-node 8 -m gancli train ...``.

Rank 0 writes every file; the global batch is the per-rank batch times the world size; each rank
reads its own share of every epoch (see BatchStream). NCCL on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gancli.errors import GancliError


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_kind: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    info = DistInfo(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))
    if device_kind == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


def broadcast_object(obj, info: DistInfo):
    """Rank 0's value of ``obj`` on every rank (e.g. the run directory name)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cleanup_distributed(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


#: what a collective raises when another rank of the run is gone (gloo, NCCL)
PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL", "gloo",
             "ProcessGroup", "Socket Timeout", "timed out")


def step_with_peers(trainer, last_ckpt) -> dict[str, torch.Tensor]:
    """One iteration; under torchrun, another rank that dies mid-step is one line, not a backend
    traceback (this rank's state is then mid-step and is not saved: the run resumes from its last
    checkpoint, as after a kill -9 of a single process)."""
    if not trainer.dist.enabled:
        return trainer.train_step()
    try:
        return trainer.train_step()
    except RuntimeError as err:
        text = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        if not any(marker in str(err) for marker in PEER_LOST):
            raise
        where = f"resume from {last_ckpt}" if last_ckpt else "no checkpoint was written yet"
        raise GancliError(f"another process of this torchrun run stopped during step {trainer.step + 1} ({text}); "
                          f"training stopped on rank {trainer.dist.rank} ({where} with the same torchrun "
                          "command and --resume)") from None
