"""``--method ebgan``: Energy-Based GAN (Zhao, Mathieu & LeCun 2017), on BEGAN's autoencoder D.

The energy is D's squared reconstruction error, a per-sample mean over pixels:

    D(x) = ||Dec(Enc(x)) − x||² / (C·H·W)                                  (N,)
    L_D = mean_i D(x_i) + mean_i [m − D(G(z_i))]⁺                         m = --margin
    L_G = mean_i D(G(z_i)) + λ_PT · f_PT(S)                                λ_PT = --pt-weight (0: none)
    f_PT(S) = 1/(N(N−1)) Σ_i Σ_{j≠i} (S_iᵀ S_j / (‖S_i‖ ‖S_j‖))²           S = Enc(G(z)): (N, h)

One iteration: one D update on [x; G(z)], then one G update on a fresh z. The energy is a mean,
not a sum, over pixels, so the margin does not scale with the resolution: an all-zero
reconstruction of data in [-1, 1] costs E[x²] (0.41 on the built-in shapes data), and m = 1 asks
D to push fakes to an RMS reconstruction error of 1 per pixel. The paper's margins (10-80) are for its own
energy scale and do not carry over. No method state.
Statistics: ``d_loss``, ``g_loss``, ``energy_real`` (D(x)), ``energy_fake`` (D(G(z)) in D's step),
``pt`` (f_PT of the G step's batch, logged whatever its weight).
"""
from __future__ import annotations

import torch

from gancli.methods.base import METHODS
from gancli.methods.began import AutoencoderDMethod


def energy(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """D(x) = ||recon − x||² / (C·H·W) per sample, in float32: (N, C, H, W) -> (N,)."""
    return (recon.float() - x.float()).pow(2).flatten(1).mean(1)


def margin_d_loss(energy_real: torch.Tensor, energy_fake: torch.Tensor, margin: float) -> torch.Tensor:
    """L_D = mean D(x) + mean [m − D(G(z))]⁺: energies (N,) -> 0-d."""
    return energy_real.mean() + (margin - energy_fake).clamp_min(0).mean()


def pulling_away(s: torch.Tensor) -> torch.Tensor:
    """f_PT(S) = 1/(N(N−1)) Σ_i Σ_{j≠i} cos²(S_i, S_j): S (N, h) -> 0-d in [0, 1]
    (0 for mutually orthogonal embeddings, 1 for parallel ones; 0 for N < 2)."""
    n = s.shape[0]
    if n < 2:
        return s.sum() * 0.0
    unit = s.float() / s.float().norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos2 = (unit @ unit.t()).pow(2)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=s.device)
    return cos2[off_diagonal].sum() / (n * (n - 1))


@METHODS.register("ebgan")
class EBGANMethod(AutoencoderDMethod):
    name = "ebgan"
    stat_labels = {"d_loss": "D", "g_loss": "G", "energy_real": "E(x)", "energy_fake": "E(G(z))", "pt": "PT"}
    panels = {"losses": ("d_loss", "g_loss"), "energies": ("energy_real", "energy_fake"), "pulling-away": ("pt",)}

    def train_step(self) -> dict[str, torch.Tensor]:
        ctx, opts = self.ctx, self.options
        G, D = self.train_nets["G"], self.train_nets["D"]
        real, _ = ctx.next_batch()
        b = real.shape[0]
        with ctx.autocast(), torch.no_grad():
            fake = G(ctx.draw_z(b))
        with ctx.autocast():  # one D forward over [x; G(z)]: D has no batch statistics
            both = torch.cat([real, fake.to(real.dtype)])
            energies = energy(both, D(both))
        energy_real, energy_fake = energies[:b], energies[b:]
        d_loss = margin_d_loss(energy_real, energy_fake, opts.margin)
        ctx.backward_step(d_loss, self.optimizers["d"])

        self._frozen_d(True)
        with ctx.autocast():
            fake_g = G(ctx.draw_z(b))
            recon, embedding = D(fake_g, return_embedding=True)
        pt = pulling_away(embedding)
        g_loss = energy(fake_g, recon).mean() + opts.pt_weight * pt
        ctx.backward_step(g_loss, self.optimizers["g"])
        self._frozen_d(False)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "energy_real": energy_real.detach().mean(),
                "energy_fake": energy_fake.detach().mean(), "pt": pt.detach()}
