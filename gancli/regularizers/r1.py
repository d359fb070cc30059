"""R1 (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?"):

    R1 = gamma / 2 * E_x[ ||grad_x D(x)||^2 ]        on real images (augmented ones with --augment,
                                                      as StyleGAN2-ADA applies it)

computed in D's step every iteration (no lazy regularisation), differentiable in D
(``create_graph``). ``--reg r1:GAMMA``; gamma 10 (the paper's).
"""
from __future__ import annotations

import torch

from gancli.regularizers import REGULARIZERS, DStep, Regularizer


@REGULARIZERS.register("r1")
class R1(Regularizer):
    name = "r1"
    default_weight = 10.0
    needs_input_grad = True

    def penalty(self, step: DStep) -> torch.Tensor:
        (grad,) = torch.autograd.grad(step.d_real.float().sum(), step.real, create_graph=True)
        return 0.5 * grad.float().flatten(1).pow(2).sum(dim=1).mean()


__all__ = ["R1"]
