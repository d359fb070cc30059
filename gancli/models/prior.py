"""The latent prior p(z) a generator is trained on: ``ModelConfig.z_dist``.

    normal:  z ~ N(0, I)          (DCGAN, SNGAN, SAGAN, BigGAN; the truncation trick is defined on it)
    uniform: z ~ U[-1, 1]^z_dim   (BEGAN, Berthelot et al. 2017; EBGAN's reference code)

Training draws from the default generator on the training device (one ``torch.randn`` call for
normal z, as every gancli run did before the prior was an option); sampling, evaluation and export
draw from seeded CPU generators (``gancli.sampling.latents``).
"""
from __future__ import annotations

import torch

from gancli.config import ModelConfig


def draw_z(n: int, cfg: ModelConfig, generator: torch.Generator | None = None,
           device: torch.device | str | None = None) -> torch.Tensor:
    """z: (n, z_dim) float32 from the model's prior (``cfg`` resolved: ``z_dist`` set)."""
    if cfg.z_dist == "uniform":
        return torch.rand(n, cfg.z_dim, generator=generator, device=device).mul_(2.0).sub_(1.0)
    return torch.randn(n, cfg.z_dim, generator=generator, device=device)


__all__ = ["draw_z"]
