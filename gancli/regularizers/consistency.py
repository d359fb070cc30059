"""Consistency regularisation: D should not care about a semantics-preserving transform T.

    cr  (Zhang, Zhang, Odena & Lee 2020, "Consistency Regularization for GANs"):
            L_cr = E_x[ (D(x) - D(T(x)))^2 ]                                    on real images
    bcr (Zhao, Zhang, Chen, Singh & Zhang 2021, "Improved Consistency Regularization for GANs"):
            L_bcr = E_x[ (D(x) - D(T(x)))^2 ] + E_z[ (D(G(z)) - D(T(G(z))))^2 ]

T: a random horizontal flip and a translation by up to 1/8 of the side with reflected borders (the
papers' "flipping + translating by a few pixels"), drawn per image. D(x) is the step's own output
and D(T(x)) comes from the same D call (T(x) joins the step's batch: one power iteration, one
forward under DDP); gradients flow through both terms, as in the papers. Weight 10 (the papers' lambda
for CIFAR-10; bcr uses it for both terms).
"""
from __future__ import annotations

import torch

from gancli.augment.ops import flip_x, fraction_of_side, translate
from gancli.regularizers import REGULARIZERS, DStep, Regularizer

SHIFT = 1 / 8


def consistency_transform(x: torch.Tensor) -> torch.Tensor:
    """T(x): random flip, then an integer shift of up to 1/8 of the side, reflected borders."""
    n, _, h, w = x.shape
    x = flip_x(x, torch.randint(0, 2, (n,), device=x.device))
    s = fraction_of_side(min(h, w), SHIFT)
    ty = torch.randint(-s, s + 1, (n,), device=x.device)
    tx = torch.randint(-s, s + 1, (n,), device=x.device)
    return translate(x, tx, ty, s, fill="reflect")


@REGULARIZERS.register("cr")
class ConsistencyReg(Regularizer):
    name = "cr"
    default_weight = 10.0

    def extra_inputs(self, real, fake, y_real, y_fake):
        return consistency_transform(real.detach()), y_real

    def penalty(self, step: DStep) -> torch.Tensor:
        return (step.d_real.float() - step.extra.float()).pow(2).mean()


@REGULARIZERS.register("bcr")
class BalancedConsistencyReg(Regularizer):
    name = "bcr"
    default_weight = 10.0

    def extra_inputs(self, real, fake, y_real, y_fake):
        both = consistency_transform(torch.cat([real.detach(), fake.detach()]))
        return both, (torch.cat([y_real, y_fake]) if y_real is not None else None)

    def penalty(self, step: DStep) -> torch.Tensor:
        b = step.d_real.shape[0]
        extra = step.extra.float()
        return (step.d_real.float() - extra[:b]).pow(2).mean() + (step.d_fake.float() - extra[b:]).pow(2).mean()


__all__ = ["ConsistencyReg", "BalancedConsistencyReg", "consistency_transform"]
