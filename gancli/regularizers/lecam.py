"""LeCam regularisation (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data"), as the authors' code computes it (google/lecam-gan):

    R_LC = E_x[relu(D(x) - alpha_F)^2] + E_z[relu(alpha_R - D(G(z)))^2]

alpha_R, alpha_F: exponential moving averages (decay 0.99, zero-debiased: divided by 1 - 0.99^t) of
the batch means of D(x) and D(G(z)), updated with this step's means before the term is computed.
The paper's Eq. 3 writes the squares without the ReLU; the code keeps only the part that pulls D's
outputs towards each other, which is what the reported results used. Weight 0.3 as the authors'
BigGAN CIFAR scripts (``--LC 0.3``). The running means are saved in the checkpoint.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gancli.regularizers import REGULARIZERS, DStep, Regularizer

DECAY = 0.99


@REGULARIZERS.register("lecam")
class LeCam(Regularizer):
    name = "lecam"
    default_weight = 0.3

    def __init__(self, weight: float | None = None):
        super().__init__(weight)
        self.biased_real = torch.zeros(())  # sum of decayed means, before the 1 - decay^t correction
        self.biased_fake = torch.zeros(())
        self.t = 0

    def update(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adds this step's means; returns the debiased (alpha_R, alpha_F)."""
        device = d_real.device
        self.biased_real = DECAY * self.biased_real.to(device) + (1 - DECAY) * d_real.detach().float().mean()
        self.biased_fake = DECAY * self.biased_fake.to(device) + (1 - DECAY) * d_fake.detach().float().mean()
        self.t += 1
        correction = 1.0 - DECAY ** self.t
        return self.biased_real / correction, self.biased_fake / correction

    def penalty(self, step: DStep) -> torch.Tensor:
        alpha_real, alpha_fake = self.update(step.d_real, step.d_fake)
        return (F.relu(step.d_real.float() - alpha_fake).pow(2).mean()
                + F.relu(alpha_real - step.d_fake.float()).pow(2).mean())

    def stats(self) -> dict[str, torch.Tensor]:
        out = super().stats()
        if self.t:
            correction = 1.0 - DECAY ** self.t
            out.update(lecam_alpha_real=self.biased_real / correction, lecam_alpha_fake=self.biased_fake / correction)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"biased_real": self.biased_real.detach().cpu().clone(), "biased_fake": self.biased_fake.detach().cpu().clone(),
                "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.biased_real = torch.as_tensor(state["biased_real"], dtype=torch.float32)
        self.biased_fake = torch.as_tensor(state["biased_fake"], dtype=torch.float32)
        self.t = int(state["t"])


__all__ = ["LeCam"]
