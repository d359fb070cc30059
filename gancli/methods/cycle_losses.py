"""CycleGAN's loss terms (Zhu et al. 2017, eq. 1-3 and sec. 5.2), with the LSGAN objective of
junyanz/pytorch-CycleGAN-and-pix2pix's ``GANLoss('lsgan')``. G: A -> B, F: B -> A; D_B judges
B images, D_A judges A images; D outputs are PatchGAN logit maps (N, 1, H', W').

Full generator objective (the reference's ``backward_G``, with lambda_A = lambda_B = lambda_cyc):

    L_G = lsgan_g(D_B(G(a))) + lsgan_g(D_A(F(b)))
          + cycle(F(G(a)), a) + cycle(G(F(b)), b)             each lambda_cyc * ||.||_1 mean
          + identity(G(b), b) + identity(F(a), a)             each lambda_cyc * lambda_id * ||.||_1 mean

and each D: ``lsgan_d(D(real), D(pool.query(fake)))``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def cycle_loss(reconstructed: torch.Tensor, original: torch.Tensor, lambda_cyc: float = 10.0) -> torch.Tensor:
    """``lambda_cyc * mean |F(G(a)) - a|`` over every element (eq. 2; lambda = 10 in the paper)."""
    return lambda_cyc * F.l1_loss(reconstructed, original)


def identity_loss(mapped: torch.Tensor, original: torch.Tensor, lambda_cyc: float = 10.0,
                  lambda_id: float = 0.5) -> torch.Tensor:
    """``lambda_cyc * lambda_id * mean |G(b) - b|`` (sec. 5.2, Taigman et al. 2017): G fed an image of
    its own output domain should leave it unchanged. The reference's ``--lambda_identity 0.5`` is
    relative to the cycle weight, so the default weight is 10 * 0.5 = 5."""
    return lambda_cyc * lambda_id * F.l1_loss(mapped, original)


def lsgan_loss(logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """``mean (D(x) - t)^2`` over every patch of every image, t = 1 (real) or 0 (fake): the
    reference's ``GANLoss('lsgan')``, an MSE against a target map the size of the logits."""
    target = 1.0 if target_is_real else 0.0
    return F.mse_loss(logits, torch.full_like(logits, target))


def lsgan_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """``0.5 * (mean (D(x) - 1)^2 + mean D(G(z))^2)``: halved, as the paper does to slow D relative
    to G (the reference's ``backward_D_basic``)."""
    return 0.5 * (lsgan_loss(logits_real, True) + lsgan_loss(logits_fake, False))


def lsgan_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """``mean (D(G(a)) - 1)^2``: G's adversarial term, its fakes against the real target."""
    return lsgan_loss(logits_fake, True)


__all__ = ["cycle_loss", "identity_loss", "lsgan_loss", "lsgan_d_loss", "lsgan_g_loss"]
