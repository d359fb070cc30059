"""DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): the same random transform T applied to every image D sees, real and generated, in D's
and G's steps, always (no probability):

    color:        x + b, b ~ U(-0.5, 0.5);  then (x - mean_c) s + mean_c, s ~ U(0, 2);
                  then (x - mean) c + mean, c ~ U(0.5, 1.5)                      (per image)
    translation:  a shift by t_x, t_y ~ U{-r, ..., r} pixels, r = round(side / 8), zeros shifted in
    cutout:       a square of round(side / 2) pixels at a uniform position set to 0 (mid-grey)

in that order (the paper's reference applies its ops in the order given). ``--augment diffaug`` uses
all three (the paper's choice for unconditional and conditional runs with little data);
``--augment diffaug:translation,cutout`` a subset.
"""
from __future__ import annotations

import torch

from gancli.augment import AUGMENTS, Augment
from gancli.augment.ops import (add_brightness, cutout, fraction_of_side, scale_contrast_about_mean,
                                scale_saturation_about_mean, translate)
from gancli.errors import GancliError

DIFFAUG_OPS = ("color", "translation", "cutout")
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def _uniform(n: int, low: float, high: float, x: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, device=x.device) * (high - low) + low


@AUGMENTS.register("diffaug")
class DiffAugment(Augment):
    name = "diffaug"

    def __init__(self, ops: list[str]):
        self.ops = ops or list(DIFFAUG_OPS)

    @classmethod
    def check(cls, cfg, ops: list[str]) -> None:
        unknown = [op for op in ops if op not in DIFFAUG_OPS]
        if unknown:
            raise GancliError(f"unknown DiffAugment op {unknown[0]!r}; choose among {', '.join(DIFFAUG_OPS)} "
                              "(e.g. --augment diffaug:translation,cutout)")

    @classmethod
    def from_config(cls, cfg, ops: list[str]) -> "DiffAugment":
        cls.check(cfg, ops)
        return cls(ops)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        for op in self.ops:
            if op == "color":
                x = add_brightness(x, _uniform(n, -0.5, 0.5, x))
                x = scale_saturation_about_mean(x, _uniform(n, 0.0, 2.0, x))
                x = scale_contrast_about_mean(x, _uniform(n, 0.5, 1.5, x))
            elif op == "translation":
                sy, sx = fraction_of_side(h, TRANSLATION_RATIO), fraction_of_side(w, TRANSLATION_RATIO)
                ty = torch.randint(-sy, sy + 1, (n,), device=x.device)
                tx = torch.randint(-sx, sx + 1, (n,), device=x.device)
                x = translate(x, tx, ty, max(sx, sy), fill="zeros")
            elif op == "cutout":
                size = (fraction_of_side(h, CUTOUT_RATIO), fraction_of_side(w, CUTOUT_RATIO))
                cy = torch.randint(0, h + (1 - size[0] % 2), (n,), device=x.device)
                cx = torch.randint(0, w + (1 - size[1] % 2), (n,), device=x.device)
                x = cutout(x, cy, cx, size)
        return x


__all__ = ["DiffAugment", "DIFFAUG_OPS"]
