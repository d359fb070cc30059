"""k-nearest-neighbour statistics of feature sets, with distances computed block by block.

Every function takes features ``(n, d)`` (float32 from an extractor, or float64) and never holds a
whole distance matrix: rows are taken in blocks of at most ``BLOCK_ELEMENTS`` distances, so
10,000 generated against 50,000 reference features needs about 130 MB, not 2 GB. Distances are
Euclidean, computed in the features' dtype after centring both sets on the reference mean (which
changes no distance and keeps the squared norms of ``torch.cdist``'s matrix-product path small).

- :func:`prdc`: precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity and
  Diversity Metrics for Generative Models"), as their reference code computes them. With real
  features X (N), fake Y (M), B_k(x) the ball around x of radius NND_k(x), x's distance to its k-th
  nearest neighbour in its own set (itself excluded):

      precision = 1/M  sum_j 1[ exists i: Y_j in B_k(X_i) ]
      recall    = 1/N  sum_i 1[ exists j: X_i in B_k(Y_j) ]
      density   = 1/(kM) sum_j sum_i 1[ Y_j in B_k(X_i) ]
      coverage  = 1/N  sum_i 1[ exists j: Y_j in B_k(X_i) ]

  "in" is strict (``d < NND_k``) as in their code. Precision and recall are Kynkäänniemi et al.'s
  (2019). Density counts how many real balls hold each fake sample (about 1 for samples like the
  data, above 1 where fakes crowd into dense regions, so it is not capped at 1); coverage asks, per
  real sample, whether its own ball holds a fake one, which outliers among the fakes cannot fake.
- :func:`nearest`: the ``k`` nearest reference features of each query (``gancli eval --nn``).
"""
from __future__ import annotations

from typing import Iterator

import torch

BLOCK_ELEMENTS = 1 << 25  # distances per block: 128 MB in float32


def _blocks(n_rows: int, n_cols: int) -> Iterator[tuple[int, int]]:
    size = max(1, BLOCK_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, size):
        yield start, min(start + size, n_rows)


def _centred(*sets: torch.Tensor, on: torch.Tensor) -> list[torch.Tensor]:
    mean = on.mean(0, keepdim=True)
    return [s - mean for s in sets]


def _check(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {tuple(a.shape)} and {tuple(b.shape)}")


def kth_neighbour_distances(x: torch.Tensor, k: int) -> torch.Tensor:
    """(n,): each row's distance to its k-th nearest other row of ``x`` (the (k+1)-th smallest
    distance, counting its zero distance to itself; duplicates count as neighbours at distance 0)."""
    if not 1 <= k < len(x):
        raise ValueError(f"k-th neighbour distances need 1 <= k < n, got k = {k}, n = {len(x)}")
    (x,) = _centred(x, on=x)
    out = torch.empty(len(x), dtype=x.dtype)
    for start, stop in _blocks(len(x), len(x)):
        d = torch.cdist(x[start:stop], x)
        out[start:stop] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return out


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (module docstring)."""
    _check(real, fake)
    real_radii = kth_neighbour_distances(real, k)
    fake_radii = kth_neighbour_distances(fake, k)
    real, fake = _centred(real, fake, on=real)
    balls_holding = torch.zeros(len(fake), dtype=torch.int64)  # per fake: real balls it lies in
    recalled = torch.zeros(len(real), dtype=torch.bool)  # per real: inside some fake ball
    nearest_fake = torch.full((len(real),), float("inf"), dtype=real.dtype)
    for start, stop in _blocks(len(fake), len(real)):
        d = torch.cdist(fake[start:stop], real)  # (b, N)
        balls_holding[start:stop] = (d < real_radii[None, :]).sum(1)
        recalled |= (d < fake_radii[start:stop, None]).any(0)
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return {"precision": float((balls_holding > 0).double().mean()),
            "recall": float(recalled.double().mean()),
            "density": float(balls_holding.double().sum() / (k * len(fake))),
            "coverage": float((nearest_fake < real_radii).double().mean())}


def nearest(queries: torch.Tensor, reference: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances (n, k), indices (n, k)) of the ``k`` nearest reference rows of each query, nearest first."""
    _check(queries, reference)
    if not 1 <= k <= len(reference):
        raise ValueError(f"nearest: need 1 <= k <= {len(reference)} reference rows, got k = {k}")
    queries, reference = _centred(queries, reference, on=reference)
    distances = torch.empty(len(queries), k, dtype=queries.dtype)
    indices = torch.empty(len(queries), k, dtype=torch.int64)
    for start, stop in _blocks(len(queries), len(reference)):
        found = torch.cdist(queries[start:stop], reference).topk(k, dim=1, largest=False)
        distances[start:stop], indices[start:stop] = found.values, found.indices
    return distances, indices


__all__ = ["prdc", "nearest", "kth_neighbour_distances", "BLOCK_ELEMENTS"]
