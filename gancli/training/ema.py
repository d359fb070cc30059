"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

    theta_ema <- d * theta_ema + (1 - d) * theta,   d = min(decay, (1 + t) / (10 + t))

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
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1.0 + step) / (10.0 + step))
        ema_params = dict(self.model.named_parameters())
        for name, p in model.named_parameters():
            ema_params[name].lerp_(p.detach(), 1.0 - d)
        ema_buffers = dict(self.model.named_buffers())
        for name, b in model.named_buffers():
            ema_buffers[name].copy_(b)
