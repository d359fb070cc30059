"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

    theta_ema <- d * theta_ema + (1 - d) * theta,   d = min(decay, (1 + t) / (10 + t))

and d = 0 (a copy of G) for t < start: BigGAN starts its G-EMA at step 20000 (``--ema-start``).

The warm-up on d keeps the first, random weights from dominating short runs. Buffers are copied
from G, not averaged: BN running statistics and SN's power-iteration vectors u, v describe G's
current weights, which theta_ema tracks closely; averaging them would mix statistics of different
networks. ``G_ema`` is only ever used in eval mode.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float, start: int = 0):
        self.decay = decay
        self.start = start
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._source: nn.Module | None = None
        self._pairs: tuple[list, list] = ([], [])

    def _pair(self, model: nn.Module) -> tuple[list, list]:
        """(ema, source) parameter and buffer pairs, matched by name once per source model."""
        if self._source is not model:
            params = dict(self.model.named_parameters())
            buffers = dict(self.model.named_buffers())
            self._pairs = ([(params[n], p) for n, p in model.named_parameters()],
                           [(buffers[n], b) for n, b in model.named_buffers()])
            self._source = model
        return self._pairs

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = 0.0 if step < self.start else min(self.decay, (1.0 + step) / (10.0 + step))
        param_pairs, buffer_pairs = self._pair(model)
        for ema_p, p in param_pairs:
            ema_p.lerp_(p.detach(), 1.0 - d)
        for ema_b, b in buffer_pairs:
            ema_b.copy_(b)
