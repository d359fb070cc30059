"""An endless, resumable stream of training batches.

Each epoch is a permutation drawn from ``seed + epoch``; under DDP rank r takes every world-th index
of it (a distributed sampler). The position (epoch, index into this rank's share) is saved in every
checkpoint, so a resumed run sees exactly the batches the uninterrupted run would have seen.
"""
from __future__ import annotations

import torch

from gancli.data import GanDataset
from gancli.errors import GancliError


def check_batch_fits(size: int, batch_size: int, world: int = 1, domain: str | None = None) -> None:
    """Refuses a dataset of ``size`` images that cannot fill one batch of ``batch_size`` per process
    (each of ``world`` processes draws from its own ``size // world`` share), suggesting the largest
    ``--batch-size`` that fits (the stream would otherwise hand out short batches, or empty ones)."""
    share = size // world
    if share >= batch_size:
        return

    what = f"domain {domain} of the dataset" if domain else "the dataset"
    batch = f"one batch of {batch_size}"
    if world > 1:
        batch += f" on each of {world} processes ({batch_size * world} in all)"
    hint = (f"pass --batch-size {share} or less" if share >= 1
            else f"use at most {size} processes or more images")
    raise GancliError(f"{what} has {size} image{'s' if size != 1 else ''}, fewer than {batch}; {hint}")


class BatchStream:
    def __init__(self, dataset: GanDataset, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 domain: str | None = None):
        """``domain``: "A" or "B" for one domain of two-domain data (named in the error when the
        dataset cannot fill one batch)."""
        check_batch_fits(len(dataset), batch_size, world, domain)
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        self.epoch = 0
        self.index = 0
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.dataset), generator=g)
        per_rank = len(order) // self.world
        return order[self.rank: per_rank * self.world: self.world]

    def state(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state(self, state: dict) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self._order = self._epoch_order(self.epoch)

    def next_indices(self) -> torch.Tensor:
        if self.index + self.batch_size > len(self._order):  # drop the ragged tail of an epoch
            self.epoch += 1
            self.index = 0
            self._order = self._epoch_order(self.epoch)
        idx = self._order[self.index: self.index + self.batch_size]
        self.index += self.batch_size
        return idx

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(images float (B, C, H, W) in [-1, 1], labels) on the CPU."""
        return self.dataset.get_batch(self.next_indices())
