"""What a run will cost, measured before it starts: ``gancli train --dry-run`` builds the run's data
and networks, trains a warm-up iteration and a few timed ones in memory (nothing is written), and
predicts the time of every step and the peak memory from them.

A measurement rather than a table: the same code on the same device with the same threads, so it
holds for any model, width, resolution, batch and machine. ``benchmarks/train_speed.py --scaling``
shows how the cost grows (docs/training.md, "Speed and memory"); evaluations, sample grids and
checkpoints come on top of the predicted time.
"""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass

import torch

from gancli.config import TrainConfig
from gancli.training.trainer import Trainer
from gancli.viz.units import format_seconds


@dataclass
class CostEstimate:
    s_per_iter: float  # seconds per training iteration (n_dis D steps + one G step)
    steps: int  # iterations the run has left
    peak_bytes: int | None  # CUDA: peak allocated; CPU: the process's peak resident set
    device: str
    threads: int
    measured: int  # timed iterations

    @property
    def total_s(self) -> float:
        return self.s_per_iter * self.steps

    def line(self) -> str:
        memory = ""
        if self.peak_bytes is not None:
            where = "allocated on the GPU" if self.device.startswith("cuda") else "resident, the whole process"
            memory = f"; peak memory about {self.peak_bytes / 2**30:.1f} GB ({where})"
        return (f"predicted: about {self.s_per_iter:.3g} s/iteration ({self.measured} timed after a warm-up on "
                f"{self.device}, {self.threads} threads), {format_seconds(self.total_s)} for {self.steps:,} steps"
                f"{memory}; evaluations and sample grids come on top")


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def estimate_cost(cfg: TrainConfig, start_step: int = 0, timed: int = 2, prepared: tuple | None = None) -> CostEstimate:
    """Builds the run as ``gancli train`` would (data, networks, optimizers; nothing written),
    trains one warm-up and ``timed`` measured iterations, and predicts the rest of the run.
    ``prepared``: the run's ``prepare(cfg)`` when the caller has it already."""
    with torch.random.fork_rng():
        trainer = Trainer(cfg, show_progress=False, prepared=prepared)
        cuda = trainer.device.type == "cuda"
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        if cuda:
            torch.cuda.reset_peak_memory_stats(trainer.device)
        trainer.train_step()  # warm-up: allocations, Adam's state, kernels chosen
        sync()
        started = time.perf_counter()
        for _ in range(timed):
            trainer.train_step()
        sync()
        s_per_iter = (time.perf_counter() - started) / timed
    peak = torch.cuda.max_memory_allocated(trainer.device) if cuda else _peak_rss_bytes()
    return CostEstimate(s_per_iter, max(cfg.steps - start_step, 0), peak, str(trainer.device), torch.get_num_threads(),
                        timed)


__all__ = ["CostEstimate", "estimate_cost"]
