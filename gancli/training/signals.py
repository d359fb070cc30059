"""Signals during training: requests the loop honours at a step boundary, agreed by every rank."""
from __future__ import annotations

import signal

import torch
import torch.distributed as torch_dist

from gancli.training.distributed import DistInfo


class StopSignals:
    """Signals become requests the loop honours at the next step boundary (so a saved state is
    always consistent): SIGINT (Ctrl-C), SIGTERM (schedulers, ``kill``) and SIGHUP (a closed
    terminal) save and stop, SIGUSR1 saves and goes on. A second stop signal gives up at once."""

    STOP = ("SIGINT", "SIGTERM", "SIGHUP")
    SAVE = ("SIGUSR1",)

    def __init__(self):
        self.stop_signal: int | None = None
        self.save_requested = False
        self._previous: dict[int, object] = {}
        self._agreed: tuple[bool, bool] | None = None  # under torchrun: what all ranks agreed this step

    def stop_now(self) -> bool:
        """Stop at this step: this process's request, or under torchrun every rank's agreed one."""
        return self.requested if self._agreed is None else self._agreed[0]

    def save_now(self) -> bool:
        return self.save_requested if self._agreed is None else self._agreed[1]

    @property
    def requested(self) -> bool:
        return self.stop_signal is not None

    def __enter__(self):
        for name in self.STOP + self.SAVE:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handle(self, signum, frame):
        if signal.Signals(signum).name in self.SAVE:
            self.save_requested = True
            return
        if self.stop_signal is not None:  # a second stop signal: give up at once
            raise KeyboardInterrupt
        self.stop_signal = signum

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False

    def agree(self, info: DistInfo) -> None:
        """Under torchrun: a stop or save asked of any rank is asked of all, at the same step (one
        tiny all-reduce per step), so every rank saves the same consistent state."""
        if not info.enabled:
            return
        flags = torch.tensor([self.stop_signal or 0, int(self.save_requested)], dtype=torch.int64)
        torch_dist.all_reduce(flags, op=torch_dist.ReduceOp.MAX)
        if flags[0] and self.stop_signal is None:
            self.stop_signal = int(flags[0])
        self._agreed = (bool(flags[0]), bool(flags[1]))
