"""Latents and labels, drawn from seeded CPU generators, all at once or a batch at a time.

The truncation trick (Brock et al. 2019): draw z from N(0, I) and *redraw* every entry with
|z_i| > t until all lie in [-t, t]; z then follows the normal truncated to [-t, t] (density
proportional to exp(-z^2 / 2) there). Scaling z by t, or clamping it, gives other distributions
(a narrower normal; point masses at +-t) that G was never shown.

Everything random is drawn from CPU ``torch.Generator``s seeded from ``seed`` (one for z, one for
labels), so the same seed gives the same z and labels on any device, and bit-identical images on
the same device. The ``*_in_pieces`` helpers hand out the same values, bit for bit, a batch at a
time.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from gancli.config import ModelConfig, check_truncation
from gancli.errors import GancliError
from gancli.models import draw_z



def truncated_normal(n: int, dim: int, truncation: float | None, generator: torch.Generator) -> torch.Tensor:
    """z: (n, dim) float32 from N(0, I), or from N(0, I) truncated to [-t, t] by resampling."""
    z = torch.randn(n, dim, generator=generator)
    if truncation is None:
        return z
    check_truncation(truncation)
    outside = z.abs() > truncation
    # each round keeps an entry with probability P(|z| <= t) (0.20 at t = 0.25, 0.008 at t = 0.01):
    # the rounds needed grow like log(n * dim) / P, a few hundred at the smallest t allowed
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > truncation
    return z


def check_prior_truncation(model_config: ModelConfig, truncation: float | None) -> None:
    """Truncation is defined for Gaussian z: a model trained on uniform z (BEGAN) refuses it."""
    if truncation is not None and model_config.z_dist == "uniform":
        raise GancliError(f"--truncation resamples Gaussian z; this {model_config.name} model draws z ~ U[-1, 1] "
                          "(its prior is bounded already): leave --truncation out")


def draw_latents(n: int, model_config: ModelConfig, truncation: float | None,
                 generator: torch.Generator) -> torch.Tensor:
    """z: (n, z_dim) float32 from the model's prior: ``truncated_normal`` for Gaussian z, U[-1, 1]
    for uniform z (which takes no truncation)."""
    check_prior_truncation(model_config, truncation)
    if model_config.z_dist == "uniform":
        return draw_z(n, model_config, generator=generator)
    return truncated_normal(n, model_config.z_dim, truncation, generator)


def latent_rows(n: int, model_config: ModelConfig, truncation: float | None, generator: torch.Generator):
    """``draw_latents(n, model_config, truncation, generator)``'s rows handed out k at a time, bit for
    bit: an object with ``take(k) -> (k, z_dim)``. ``generator`` itself is not advanced."""
    check_prior_truncation(model_config, truncation)
    if model_config.z_dist == "uniform":
        return UniformRows(n, model_config.z_dim, generator)
    return TruncatedNormalRows(n, model_config.z_dim, truncation, generator)


def interpolate(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, z_dist: str = "normal") -> torch.Tensor:
    """Walks from the rows of a to those of b (N, D) at fractions t (K,) -> (N, K, D): slerp for Gaussian
    z (which keeps the typical norm), a straight line for uniform z (which stays inside the cube)."""
    if z_dist == "uniform":
        t = t[None, :, None]
        return (1 - t) * a[:, None, :] + t * b[:, None, :]
    return slerp(a, b, t)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (N, D) at fractions t (K,) -> (N, K, D).

    slerp(a, b; t) = sin((1-t) w) / sin w * a + sin(t w) / sin w * b, w the angle between a and b;
    linear interpolation where a and b are (nearly) parallel."""
    a_n = a / a.norm(dim=1, keepdim=True)
    b_n = b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(dim=1).clamp(-1.0, 1.0))[:, None, None]  # (N, 1, 1)
    t = t[None, :, None]
    sin_omega = torch.sin(omega)
    safe = sin_omega.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1 - t) * omega) / torch.where(safe, sin_omega, 1.0), 1 - t)
    wb = torch.where(safe, torch.sin(t * omega) / torch.where(safe, sin_omega, 1.0), t)
    return wa * a[:, None, :] + wb * b[:, None, :]


class InPieces:
    """Hands out, k values at a time, exactly what one call ``draw(total, generator)`` returns, holding
    at most one piece.

    For draws that take the generator's numbers in order, one value after the other, except at their
    ends: CPU ``torch.randn`` maps uniforms to normals in blocks of 16 (Box-Muller) and, when the size
    is not a multiple of 16, redraws the last 16; ``torch.multinomial`` takes another algorithm for a
    single sample. So every piece but the last is a multiple of ``unit`` values and the last one has
    at least ``min_last`` (or is the whole draw): then the pieces use the generator exactly as the one
    call does. tests/test_sampling.py checks each draw used here against the one call."""

    def __init__(self, draw: Callable[[int, torch.Generator], torch.Tensor], total: int,
                 generator: torch.Generator, unit: int = 1, min_last: int = 1):
        self.draw, self.left, self.generator = draw, total, generator
        self.unit, self.min_last = unit, min_last
        self.buffer: torch.Tensor | None = None  # drawn, not yet handed out (fewer than unit + min_last)

    def take(self, k: int) -> torch.Tensor:
        parts, have = [], 0
        if self.buffer is not None and len(self.buffer):
            parts, have = [self.buffer[:k]], min(k, len(self.buffer))
            self.buffer = self.buffer[have:]
        if have < k:
            size = -(-(k - have) // self.unit) * self.unit
            if self.left - size < self.min_last:
                size = self.left
            if size < k - have:
                raise ValueError(f"asked for {k - have} more values than the {self.left} left")
            drawn = self.draw(size, self.generator)
            self.left -= size
            parts.append(drawn[: k - have])
            self.buffer = drawn[k - have:]
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def normals_in_pieces(total: int, generator: torch.Generator) -> InPieces:
    """``torch.randn(total, generator=generator)``, in pieces."""
    return InPieces(lambda size, g: torch.randn(size, generator=g), total, generator, unit=16, min_last=16)


class UniformRows:
    """The rows of ``draw_z(n, cfg, generator)`` for uniform z, handed out k at a time (CPU
    ``torch.rand`` takes the generator's numbers one value after the other, so pieces need no unit);
    ``generator`` itself is not advanced."""

    def __init__(self, n: int, dim: int, generator: torch.Generator):
        self.dim = dim
        self.values = InPieces(lambda size, g: torch.rand(size, generator=g), n * dim, _copy(generator))

    def take(self, k: int) -> torch.Tensor:
        return self.values.take(k * self.dim).mul_(2.0).sub_(1.0).view(k, self.dim)


class TruncatedNormalRows:
    """The rows of ``truncated_normal(n, dim, truncation, generator)``, bit for bit, handed out k at a
    time: memory for k rows, not n. ``generator`` itself is not advanced.

    ``truncated_normal`` draws n * dim normals, then in round r one normal for each of the k_r entries
    still outside [-t, t], in order. So the redraw an entry gets in round r is the next unused value of
    round r's draw. A first pass (draws only, no storage) counts each k_r (the values outside [-t, t]
    among round r-1's) and keeps the generator state where each round starts; then every round's draw
    is handed out in pieces as the rows are asked for. That pass costs one more run through the draws
    and keeps one generator state (5 KB) per round: about ln(n * dim) / -ln(1 - P(|z| <= t)) rounds,
    16 at t = 1 and 2,300 at t = 0.01 for a million 128-d z."""

    def __init__(self, n: int, dim: int, truncation: float | None, generator: torch.Generator):
        if truncation is not None:
            check_truncation(truncation)
        self.dim, self.truncation = dim, truncation
        self.base = normals_in_pieces(n * dim, _copy(generator))
        self.rounds: list[InPieces | tuple[torch.Tensor, int]] = []  # a round's start state and size, until used
        if truncation is not None:
            scout = _copy(generator)
            outside = _count_outside(normals_in_pieces(n * dim, scout), n * dim, truncation)
            while outside:
                self.rounds.append((scout.get_state(), outside))
                outside = _count_outside(normals_in_pieces(outside, scout), outside, truncation)

    def take(self, k: int) -> torch.Tensor:
        """The next k rows: (k, dim) float32."""
        z = self.base.take(k * self.dim)
        if self.truncation is not None:
            outside = (z.abs() > self.truncation).nonzero().squeeze(1)  # in order, as z[mask] assigns
            r = 0
            while len(outside):
                redrawn = self._round(r).take(len(outside))
                z[outside] = redrawn
                outside = outside[redrawn.abs() > self.truncation]
                r += 1
        return z.view(k, self.dim)

    def _round(self, r: int) -> InPieces:
        if isinstance(self.rounds[r], tuple):
            state, size = self.rounds[r]
            self.rounds[r] = normals_in_pieces(size, torch.Generator().set_state(state))
        return self.rounds[r]


def _copy(generator: torch.Generator) -> torch.Generator:
    return torch.Generator().set_state(generator.get_state())


def _count_outside(values: InPieces, total: int, truncation: float, chunk: int = 1 << 16) -> int:
    count = 0
    for start in range(0, total, chunk):
        count += int((values.take(min(chunk, total - start)).abs() > truncation).sum())
    return count


def seeded_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """The two CPU generators every command draws from for one ``--seed``: z, then labels."""
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed((seed + 1_000_003) % 2**63)


def label_frequencies(model_config: ModelConfig, dataset: dict[str, Any]) -> list[float]:
    """The frequencies labels are drawn with: the data's (a checkpoint's dataset description), or
    uniform classes / 0.5 per attribute when it holds no usable ones; [] for an unconditional model."""
    freq = [float(f) for f in dataset.get("label_frequencies") or []]
    if model_config.label_kind == "class":
        k = model_config.n_classes
        return freq if len(freq) == k and sum(freq) > 0 else [1.0] * k
    if model_config.label_kind == "attrs":
        k = model_config.n_attrs
        return freq if len(freq) == k else [0.5] * k
    return []


def labels_like_data(model_config: ModelConfig, dataset: dict[str, Any], n: int,
                     generator: torch.Generator) -> torch.Tensor | None:
    """Labels drawn as the training data has them: classes by their frequency, each attribute set
    with its frequency (``label_frequencies``). None for an unconditional model."""
    freq = torch.tensor(label_frequencies(model_config, dataset), dtype=torch.float64)
    if model_config.label_kind == "class":
        return torch.multinomial(freq, n, replacement=True, generator=generator)
    if model_config.label_kind == "attrs":
        return (torch.rand(n, len(freq), generator=generator, dtype=torch.float64) < freq).float()
    return None


def labels_in_pieces(model_config: ModelConfig, dataset: dict[str, Any], n: int,
                     generator: torch.Generator) -> Callable[[int], torch.Tensor | None]:
    """``labels_like_data(model_config, dataset, n, generator)`` handed out k rows at a time:
    ``take(k)`` returns the next k labels (None for an unconditional model), bit for bit the same."""
    freq = torch.tensor(label_frequencies(model_config, dataset), dtype=torch.float64)
    if model_config.label_kind == "class":
        drawn = InPieces(lambda size, g: torch.multinomial(freq, size, replacement=True, generator=g), n, generator,
                         unit=2, min_last=2)
        return drawn.take
    if model_config.label_kind == "attrs":
        k_attrs = len(freq)
        drawn = InPieces(lambda size, g: torch.rand(size, generator=g, dtype=torch.float64), n * k_attrs, generator)
        return lambda k: (drawn.take(k * k_attrs).view(k, k_attrs) < freq).float()
    return lambda k: None


def finite_output(x: torch.Tensor) -> torch.Tensor:
    """G's output ``x``, or one clear error when it holds NaN or Inf: broken weights would otherwise
    turn into black or white images, FIDs of garbage, or attention maps of nothing."""
    if not bool(torch.isfinite(x).all()):
        raise GancliError("the generator's output is NaN or Inf: this checkpoint's weights are broken "
                          "(nothing was written)")
    return x
