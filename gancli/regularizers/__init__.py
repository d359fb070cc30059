"""Regularisers of D, composed by the ``gan`` method (``--reg NAME[:weight]``, repeatable).

    lecam   LeCam (Tseng, Jiang, Liu, Yang & Yang 2021): pulls D's outputs on real images towards
            the running mean of its outputs on generated ones, and vice versa          [weight 0.3]
    cr      consistency regularisation (Zhang, Zhang, Odena & Lee 2020): D(x) = D(T(x)) on reals
                                                                                        [weight 10]
    bcr     balanced consistency regularisation (Zhao, Zhang, Chen, Singh & Zhang 2021): the same on
            reals and on generated images                                               [weight 10]
    r1      R1 (Mescheder, Geiger & Nowozin 2018): gamma / 2 E[||grad_x D(x)||^2] on reals [gamma 10]

A regulariser sees one D step's pass (:class:`DStep`: D, its inputs and logits) and returns a term
added to D's loss; ``needs_input_grad`` asks the method to make D's real inputs require grad (R1);
``stats()`` goes into metrics.jsonl, ``state_dict()`` into the checkpoint (LeCam's running means).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gancli.errors import GancliError
from gancli.registry import Registry


@dataclass
class DStep:
    """What one D pass of the ``gan`` method hands a regulariser."""

    real: torch.Tensor  # D's real inputs (N, C, H, W), augmented if --augment; requiring grad for R1
    fake: torch.Tensor  # D's generated inputs, augmented if --augment (detached from G)
    y_real: torch.Tensor | None
    y_fake: torch.Tensor | None
    d_real: torch.Tensor  # D(real) (N,)
    d_fake: torch.Tensor  # D(fake) (N,)
    extra: torch.Tensor | None = None  # D's logits on this regulariser's extra_inputs, in their order


class Regularizer:
    name = ""
    default_weight = 1.0
    needs_input_grad = False

    def __init__(self, weight: float | None = None):
        self.weight = float(self.default_weight if weight is None else weight)

    def extra_inputs(self, real: torch.Tensor, fake: torch.Tensor, y_real: torch.Tensor | None,
                     y_fake: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """Images (and labels) D should also see in the step's one D call (one power iteration, one
        forward under DDP), or None; their logits come back as ``DStep.extra``."""
        return None

    def penalty(self, step: DStep) -> torch.Tensor:
        """The term (a 0-d tensor) before its weight."""
        raise NotImplementedError

    def __call__(self, step: DStep) -> torch.Tensor:
        value = self.penalty(step)
        self.last = value.detach()
        return self.weight * value

    def stats(self) -> dict[str, torch.Tensor]:
        last = getattr(self, "last", None)
        return {} if last is None else {f"reg_{self.name}": last}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


REGULARIZERS: Registry[type[Regularizer]] = Registry("regulariser")


def parse_reg(spec: str) -> tuple[str, float | None]:
    """``"lecam:0.1"`` -> ("lecam", 0.1); ``"r1"`` -> ("r1", None): the regulariser's default weight."""
    name, sep, weight = spec.partition(":")
    name = name.strip()
    REGULARIZERS.get(name)
    if not sep:
        return name, None
    try:
        value = float(weight)
    except ValueError:
        raise GancliError(f"--reg {spec}: the weight after ':' must be a number, e.g. --reg {name}:0.5") from None
    if not (value >= 0 and value < float("inf")):
        raise GancliError(f"--reg {spec}: the weight must be a finite number >= 0")
    return name, value


def check_regs(specs: list[str]) -> list[tuple[str, float | None]]:
    parsed = [parse_reg(spec) for spec in specs]
    names = [name for name, _ in parsed]
    for name in set(names):
        if names.count(name) > 1:
            raise GancliError(f"--reg {name} is given twice; give it once, with its weight (--reg {name}:W)")
    if "cr" in names and "bcr" in names:
        raise GancliError("--reg cr and bcr overlap (bcr is cr on reals plus the same on generated images); "
                          "choose one")
    return parsed


def build_regs(specs: list[str]) -> list[Regularizer]:
    return [REGULARIZERS.get(name)(weight) for name, weight in check_regs(specs)]


from gancli.regularizers import consistency, lecam, r1  # noqa: E402,F401,I001  (registration)

__all__ = ["REGULARIZERS", "Regularizer", "DStep", "build_regs", "check_regs", "parse_reg"]
