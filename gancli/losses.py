"""Adversarial losses by name, and BigGAN's orthogonal regularisation.

With D's logits on real data r and on generated data f (each (N,)):

    hinge   (Lim & Ye 2017; SAGAN):  L_D = E[relu(1 - r)] + E[relu(1 + f)]     L_G = -E[f]
    ns      (Goodfellow et al. 2014): L_D = E[softplus(-r)] + E[softplus(f)]  L_G = E[softplus(-f)]
    wgan-gp (Gulrajani et al. 2017):  L_D = E[f] - E[r] + lambda * E[(||grad_x D(x_hat)||_2 - 1)^2]
                                      L_G = -E[f],  x_hat = eps x_real + (1 - eps) x_fake, eps ~ U(0, 1)
    ls      (Mao et al. 2017; CycleGAN): L_D = E[(r - 1)^2] + E[f^2]       L_G = E[(f - 1)^2]

Every loss takes the gradient-penalty weight lambda as a parameter (``gp_weight``; None: the
loss's own default, 10 for wgan-gp and 0 for the others), so ``--loss hinge --gp-weight 10`` is
hinge plus the penalty. ``ls`` is the mean squared error of pytorch-CycleGAN-and-pix2pix's
``lsgan`` mode (targets 1 and 0, a = 0, b = c = 1 in Mao et al.'s notation) without Mao et al.'s
factor 1/2 on each term: a constant scale of a loss does not change Adam's steps (up to its eps).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from gancli.layers.spectral import SN_TYPES, raw_weight
from gancli.registry import Registry


class GANLoss:
    """``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``; ``gp_weight`` > 0 asks the
    training method to add :func:`gradient_penalty` to D's loss. D's loss is a sum of a term on real
    logits and a term on fake logits, so a method may back-propagate the two halves separately."""

    name = ""
    default_gp_weight = 0.0

    def __init__(self, gp_weight: float | None = None):
        self.gp_weight = float(self.default_gp_weight if gp_weight is None else gp_weight)

    def d_loss_real(self, real: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_loss_fake(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return self.d_loss_real(real) + self.d_loss_fake(fake)

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


LOSSES: Registry[type[GANLoss]] = Registry("loss")


@LOSSES.register("hinge")
class HingeLoss(GANLoss):
    name = "hinge"

    def d_loss_real(self, real):
        return F.relu(1.0 - real).mean()

    def d_loss_fake(self, fake):
        return F.relu(1.0 + fake).mean()

    def g_loss(self, fake):
        return -fake.mean()


@LOSSES.register("ns")
class NonSaturatingLoss(GANLoss):
    name = "ns"

    def d_loss_real(self, real):
        return F.softplus(-real).mean()

    def d_loss_fake(self, fake):
        return F.softplus(fake).mean()

    def g_loss(self, fake):
        return F.softplus(-fake).mean()


@LOSSES.register("wgan-gp")
class WGANGPLoss(GANLoss):
    name = "wgan-gp"
    default_gp_weight = 10.0

    def d_loss_real(self, real):
        return -real.mean()

    def d_loss_fake(self, fake):
        return fake.mean()

    def g_loss(self, fake):
        return -fake.mean()


@LOSSES.register("ls")
class LeastSquaresLoss(GANLoss):
    name = "ls"

    def d_loss_real(self, real):
        return ((real - 1.0) ** 2).mean()

    def d_loss_fake(self, fake):
        return (fake**2).mean()

    def g_loss(self, fake):
        return ((fake - 1.0) ** 2).mean()


def get_loss(name: str, gp_weight: float | None = None) -> GANLoss:
    """The loss registered as ``name`` with its parameters (None: the loss's default)."""
    return LOSSES.get(name)(gp_weight=gp_weight)


def interpolates(real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """x_hat = eps x_real + (1 - eps) x_fake, eps ~ U(0, 1) per sample, detached and requiring grad."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype, generator=generator)
    return (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)


def penalty_of(critic_out: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """E[(||grad_x_hat critic_out||_2 - 1)^2], differentiable (``create_graph``) in the critic."""
    (grad,) = torch.autograd.grad(critic_out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(||grad_x critic(x_hat)||_2 - 1)^2] on random interpolates x_hat (one eps per sample).

    ``critic`` maps (N, C, H, W) -> (N,); pass a closure that binds the labels. (The ``gan``
    method runs the critic on interpolates inside D's one forward instead: ``penalty_of``.)"""
    x_hat = interpolates(real, fake, generator)
    # The penalty is differentiated twice; fused attention kernels have no double backward, so the
    # critic runs its attention through SDPA's math backend here (same values, more memory).
    with sdpa_kernel(SDPBackend.MATH):
        out = critic(x_hat)
    return penalty_of(out, x_hat)


def orthogonal_regularization(net: nn.Module) -> torch.Tensor:
    """BigGAN's R(W) = 1/2 sum over weights of ||W W^T * (1 - I)||_F^2, W reshaped to (out, rest).

    The paper writes beta ||W W^T * (1 - I)||_F^2 (gradient 4 beta (W W^T * (1 - I)) W); BigGAN-PyTorch,
    whose beta = 1e-4 everyone uses, adds 2 beta (W W^T * (1 - I)) W to the gradient directly. The
    factor 1/2 here gives that gradient, so --ortho-reg 1e-4 means what it means there. Applied to
    the raw (un-normalised) weights; BigGAN's shared embedding is left out, as in BigGAN."""
    total = None
    for m in net.modules():
        if not isinstance(m, SN_TYPES) or m is getattr(net, "shared", None):
            continue
        w = raw_weight(m).flatten(1)
        gram = w @ w.t()
        off = gram * (1.0 - torch.eye(gram.shape[0], device=w.device, dtype=w.dtype))
        term = 0.5 * (off**2).sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return total
