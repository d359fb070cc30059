"""Differentiable augmentation of D's inputs, real and generated alike (``--augment``).

With few images, D memorises the training set and its feedback to G stops carrying the data's
variety. Augmenting every image D sees, real and fake, by a differentiable transform T keeps D from
memorising while G's gradient flows through T, so G still learns the un-augmented distribution as
long as T does not "leak" (is invertible in distribution: Karras et al. 2020, §2.2).

    diffaug[:ops]   DiffAugment (Zhao et al. 2020): each op applied to every image, always
                    (``color,translation,cutout`` by default; any comma-separated subset)
    ada             adaptive augmentation (Karras et al. 2020): each op applied with probability p,
                    p steered so that r_t = E[sign(D(x_real))] stays near ``--ada-target`` (0.6)

An augment is a part the ``gan`` method composes (``gancli.methods.gan``), not a branch of the loop:
``augment(x)`` transforms a batch (N, C, H, W) in [-1, 1]; ``observe(d_real)`` sees D's logits on
(augmented) real images; ``stats()`` is what goes into metrics.jsonl; ``state_dict()`` goes into the
checkpoint. Random draws come from torch's global generator on the images' device, which the
checkpoint saves, so a resumed run draws the same transforms.
"""
from __future__ import annotations

from typing import Any

import torch

from gancli.errors import GancliError
from gancli.registry import Registry


class Augment:
    """Base class: the identity."""

    name = ""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def observe(self, d_real: torch.Tensor) -> None:
        """D's logits on the augmented real images of one D step (ADA's overfitting heuristic)."""

    def after_step(self, step: int, batch_size: int, distributed: bool) -> None:
        """Called once per iteration after the D steps (ADA adjusts p every few of them)."""

    def stats(self) -> dict[str, torch.Tensor]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


AUGMENTS: Registry[type[Augment]] = Registry("augmentation")


def parse_augment(spec: str) -> tuple[str, list[str]]:
    """``"diffaug:color,cutout"`` -> ("diffaug", ["color", "cutout"]); ``"ada"`` -> ("ada", [])."""
    name, _, ops = spec.partition(":")
    name = name.strip()
    AUGMENTS.get(name)  # unknown name: one line listing the choices
    return name, [op.strip() for op in ops.split(",") if op.strip()]


def build_augment(cfg) -> Augment | None:
    """The augment ``cfg.augment`` names (with its options from ``cfg``), or None."""
    if not cfg.augment:
        return None
    name, ops = parse_augment(cfg.augment)
    return AUGMENTS.get(name).from_config(cfg, ops)


def check_augment(cfg) -> None:
    """Raises GancliError for a bad ``--augment`` and its options, before anything is built."""
    if not cfg.augment:
        return
    name, ops = parse_augment(cfg.augment)
    AUGMENTS.get(name).check(cfg, ops)


from gancli.augment import ada, diffaug  # noqa: E402,F401,I001  (registration)

__all__ = ["AUGMENTS", "Augment", "build_augment", "check_augment", "parse_augment", "GancliError"]
