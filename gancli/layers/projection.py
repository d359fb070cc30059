"""Projection discriminator head (Miyato & Koyama 2018).

    logit(x, y) = psi(phi(x)) + <V y, phi(x)>

phi(x): (N, F) pooled features; psi: linear F -> 1; V: an embedding (class index y) or a linear map
(multi-hot attribute vector y, so <V y, phi> sums the embeddings of the attributes that are set).
V is a table of label vectors, not a layer on x: spectral norm covers it, weight norm (``--d-norm wn``,
"every conv and linear layer") leaves it plain.
"""
from __future__ import annotations

import torch
from torch import nn

from gancli.layers.norm import exempt_from_wn


class ProjectionHead(nn.Module):
    def __init__(self, features: int, label_kind: str = "none", n_labels: int = 0):
        super().__init__()
        self.label_kind = label_kind
        self.psi = nn.Linear(features, 1)
        if label_kind == "class":
            self.embed = nn.Embedding(n_labels, features)
        elif label_kind == "attrs":
            self.embed = nn.Linear(n_labels, features, bias=False)
        elif label_kind != "none":
            raise ValueError(f"unknown label kind {label_kind!r}")
        if label_kind != "none":
            exempt_from_wn(self.embed)

    def projection(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """<V y, phi(x)>: (N,)"""
        return (self.embed(y) * h).sum(dim=1)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """h: (N, F) -> logits (N,)"""
        out = self.psi(h).squeeze(1)
        if self.label_kind != "none":
            if y is None:
                raise ValueError("a conditional discriminator needs labels")
            out = out + self.projection(h, y)
        return out
