"""Controlled degradations of real ``shapes`` data, to check what a diversity metric can see.

Each degradation takes the parameters of real shapes (:class:`~gancli.data.shapes.ShapeParams`)
and removes one kind of variety, so the images stay exactly rendered, real-looking shapes and only
their spread changes; scored against the same reference as generated images, a metric that claims
to measure diversity has to move away from the held-out control:

    control        the parameters as drawn (a held-out real set)
    one-colour     every shape in one colour
    one-background every background in one colour
    one-position   every shape centred
    one-size       every shape of the middle radius (its position kept relative to the margins)
    4-classes      classes 0-3 only (label mod 4), 1-class: circles only
    100-jittered   the first 100 images repeated to fill n, each copy shifted by up to +-1 px
                   and given +-1 level of pixel noise (``jittered_noise``)

:func:`factor_spreads` gives the spread of each factor of a set from its parameters;
:func:`score_degradations` scores every set against one reference, with one or more extractors
(``benchmarks/diversity_validation.py`` prints it; a test checks its directions on small sets).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

import torch

from gancli.config import EvalRequest
from gancli.data.shapes import MARGIN, MIN_CONTRAST, ShapeParams, render_shapes, sample_params
from gancli.metrics.evaluate import compute_metrics, make_extract
from gancli.metrics.extractors import build_extractor, extractor_spec

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # as the data's sampler weighs brightness

ONE_COLOUR = np.array([0.95, 0.75, 0.30], dtype=np.float32)  # luma 0.76: bright against any background
ONE_BACKGROUND = np.array([0.10, 0.12, 0.16], dtype=np.float32)  # a dark blue-grey, luma 0.12
MIDDLE_RADIUS = np.float32(0.35)
JITTER_SOURCE = 100  # distinct images of the jittered set


def _one_colour(p: ShapeParams, rng: np.random.Generator) -> ShapeParams:
    return replace(p, foreground=np.broadcast_to(ONE_COLOUR, p.foreground.shape).copy())


def _one_background(p: ShapeParams, rng: np.random.Generator) -> ShapeParams:
    """One background; a shape colour too close in brightness to it is drawn again, as the data's
    sampler does, so that every shape still stands out."""
    background = np.broadcast_to(ONE_BACKGROUND, p.background.shape).copy()
    foreground = p.foreground.copy()
    while True:
        dull = np.abs(foreground @ LUMA - background @ LUMA) < MIN_CONTRAST
        if not dull.any():
            return replace(p, background=background, foreground=foreground)
        foreground[dull] = rng.random((int(dull.sum()), 3), dtype=np.float32)


def _one_position(p: ShapeParams, rng: np.random.Generator) -> ShapeParams:
    return replace(p, centers=np.full_like(p.centers, 0.5))


def _one_size(p: ShapeParams, rng: np.random.Generator) -> ShapeParams:
    """Every radius the middle one; each centre keeps its place between the margins, which move with
    the radius (a centre near the edge of a small shape would push a large one out of the image)."""
    low = p.radii + MARGIN
    fraction = (p.centers - low[:, None]) / (1 - 2 * low)[:, None]
    new_low = MIDDLE_RADIUS + MARGIN
    centers = (new_low + fraction * (1 - 2 * new_low)).astype(np.float32)
    return replace(p, radii=np.full_like(p.radii, MIDDLE_RADIUS), centers=centers)


def _keep_classes(k: int) -> Callable[[ShapeParams, np.random.Generator], ShapeParams]:
    def degrade(p: ShapeParams, rng: np.random.Generator) -> ShapeParams:
        return replace(p, labels=p.labels % k)
    return degrade


def _jittered(p: ShapeParams, rng: np.random.Generator, res: int = 32) -> ShapeParams:
    """The first 100 images repeated to fill n, each centre moved by up to +-1 px at ``res``."""
    source = p.take(np.arange(len(p)) % JITTER_SOURCE)
    shift = rng.uniform(-1.0, 1.0, size=source.centers.shape).astype(np.float32) / res
    return replace(source, centers=source.centers + shift)


DEGRADATIONS: dict[str, Callable[[ShapeParams, np.random.Generator], ShapeParams]] = {
    "control": lambda p, rng: p,
    "one-colour": _one_colour,
    "one-background": _one_background,
    "one-position": _one_position,
    "one-size": _one_size,
    "4-classes": _keep_classes(4),
    "1-class": _keep_classes(1),
    "100-jittered": _jittered,
}


def degrade(name: str, params: ShapeParams, seed: int = 0) -> ShapeParams:
    """``params`` with the variety ``name`` removes taken away (see the module docstring)."""
    return DEGRADATIONS[name](params, np.random.default_rng([seed, 99]))


def jittered_noise(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 images plus integer noise in {-1, 0, 1} levels (the jittered set's "tiny noise")."""
    rng = np.random.default_rng([seed, 98])
    noisy = images.astype(np.int16) + rng.integers(-1, 2, size=images.shape, dtype=np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def factor_spreads(p: ShapeParams, res: int = 32) -> dict[str, float]:
    """The spread of each factor of a set: standard deviations of the shape's and the background's
    colour (0-255 levels, averaged over the channels), of the centre (px at ``res``, over x and y)
    and of the radius (px at ``res``); the number of classes present; and the number of distinct
    shapes up to position (class, colours and radius): the jittered set has 100."""
    distinct = len(np.unique(np.concatenate([p.labels[:, None].astype(np.float32), p.radii[:, None],
                                             p.foreground, p.background], axis=1), axis=0))
    return {"shape_colour": float(255 * p.foreground.std(0).mean()),
            "background": float(255 * p.background.std(0).mean()),
            "position": float(res * p.centers.std(0).mean()), "radius": float(res * p.radii.std()),
            "classes": int(len(np.unique(p.labels))), "distinct": int(distinct)}


def degraded_set(name: str, params: ShapeParams, res: int = 32, seed: int = 0) -> tuple[np.ndarray, ShapeParams]:
    """(uint8 images (N, 3, res, res), their parameters) of degradation ``name`` of ``params``."""
    changed = degrade(name, params, seed)
    images = render_shapes(changed, res)
    return (jittered_noise(images, seed) if name == "100-jittered" else images), changed


def _features(extract, images: np.ndarray, batch_size: int = 500) -> dict[str, torch.Tensor]:
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(images), batch_size):
        for layer, value in extract(torch.from_numpy(images[start: start + batch_size])).items():
            parts.setdefault(layer, []).append(value.float())
    return {layer: torch.cat(p) for layer, p in parts.items()}


def score_degradations(extractors: list[str], n: int = 2000, ref_n: int = 2000, res: int = 32,
                       metrics: tuple[str, ...] = ("fid", "kid", "prc", "prdc"), names: list[str] | None = None,
                       seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """``{extractor: {degradation: record values}}`` plus ``{"spreads": {degradation: factor_spreads}}``.

    Reference: ``ref_n`` shapes of the train split of seed ``seed`` (stream 0, as a run's training
    data); the degraded sets are made from ``n`` held-out shapes (stream 1, the test split), so the
    control is a real set the reference does not contain."""
    names = list(DEGRADATIONS) if names is None else names
    reference = render_shapes(sample_params(ref_n, seed, 0), res)
    held_out = sample_params(n, seed, 1)
    sets = {name: degraded_set(name, held_out, res, seed) for name in names}
    out: dict[str, dict[str, dict[str, float]]] = {"spreads": {name: factor_spreads(p, res) for name, (_, p) in sets.items()}}
    req = EvalRequest(metrics=list(metrics), n=n, kid_subset_size=min(1000, n), seed=seed)
    for extractor_name in extractors:
        spec = extractor_spec(extractor_name)
        with torch.no_grad():
            extract = make_extract(build_extractor(extractor_name, [spec.feature_layer, spec.logits_layer]), "cpu")
            ref = _features(extract, reference)
            out[extractor_name] = {name: compute_metrics(list(metrics), _features(extract, images), ref,
                                                         spec.feature_layer, spec.logits_layer, req)
                                   for name, (images, _) in sets.items()}
    return out


__all__ = ["DEGRADATIONS", "degrade", "degraded_set", "jittered_noise", "factor_spreads", "score_degradations"]
