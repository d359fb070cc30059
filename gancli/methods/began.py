"""``--method began``: Boundary Equilibrium GAN (Berthelot, Schumm & Metz 2017).

D is an autoencoder (``--model began``) and L(v) = mean |v − D(v)| its L1 reconstruction loss
(the paper's η = 1), a 0-d mean over the batch and every pixel. With k_0 = 0:

    L_D = L(x) − k_t · L(G(z_D))            (one D update)
    L_G = L(G(z_G))                         (then one G update, fresh z_G, through the updated D)
    k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z_G))), 0, 1)      λ_k = --lambda-k, γ = --gamma
    M_global = L(x) + |γ L(x) − L(G(z_G))|                   (the convergence measure)

As in the paper's update rule, k moves with G's L(G(z_G)) (not D's L(G(z_D))); L(x) is the one
of D's step (before D's update). k_t is the method's state: saved in every checkpoint, so a
resumed run continues bit-exactly. ``--lr-halving N`` halves both learning rates (at the start
of the next step) whenever the running mean of M_global (an exponential mean, decay 0.99) has
not reached a new low for N steps (the paper lowers the lr when M_global stalls); its best value
and counter are method state too. It does not combine with
``--lr-decay`` (which sets every lr from the configured one each step), so the two are refused.

Statistics: ``d_loss``, ``g_loss`` (= L(G(z_G))), ``k_t`` (after this step's update),
``m_global``, ``loss_real`` (L(x)) and ``loss_fake`` (D's L(G(z_D)), the term k_t weighs).
:class:`AutoencoderDMethod` is what BEGAN and EBGAN share (networks, optimizers, checks).
"""
from __future__ import annotations

from typing import Any

import torch

from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.methods.base import METHODS, Method, TrainContext
from gancli.models import MODELS
import torch.distributed as dist

M_RUNNING_DECAY = 0.99  # the running mean of M_global that --lr-halving watches (~100 steps)


def reconstruction_loss(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """L(v) = mean |v − D(v)| over the batch and every pixel, in float32: x, recon (N, C, H, W) -> 0-d."""
    return (x.float() - recon.float()).abs().mean()


def k_update(k, loss_real, loss_fake, gamma: float, lambda_k: float):
    """k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z_G))), 0, 1): tensors (0-d) or floats."""
    k = k + lambda_k * (gamma * loss_real - loss_fake)
    return k.clamp(0.0, 1.0) if isinstance(k, torch.Tensor) else min(max(k, 0.0), 1.0)


def m_global(loss_real, loss_fake, gamma: float):
    """M_global = L(x) + |γ L(x) − L(G(z_G))|: tensors (0-d) or floats."""
    return loss_real + abs(gamma * loss_real - loss_fake)


def stall_update(value: float, best: float, since_best: int) -> tuple[float, int]:
    """(best, steps since best) after one more running-mean value: a new low resets the count."""
    return (value, 0) if value < best else (best, since_best + 1)


class AutoencoderDMethod(Method):
    """G and an autoencoder D (model ``began``), Adam for both; unconditional."""

    unconditional = True  # no labels: --cond's auto default should be off for these methods (training.prepare)
    generator = "G"
    ema_networks = ("G",)

    @classmethod
    def check_config(cls, cfg: TrainConfig) -> None:
        spec = MODELS.get(cfg.model.name)
        if not spec.autoencoder_d:
            raise GancliError(f"--method {cls.name} needs a model whose D is an autoencoder (--model began); "
                              f"{cfg.model.name}'s D outputs logits")
        if cfg.cond:
            raise GancliError(f"--method {cls.name} is unconditional (the paper conditions on no labels); "
                              "drop --cond, or pass --no-cond for labelled data")
        if cfg.n_dis != 1:
            raise GancliError(f"--method {cls.name} does one D and one G update per step; --n-dis must be 1, "
                              f"got {cfg.n_dis}")
        for flag, used in (("--reuse-fake", cfg.reuse_fake), ("--split-d", cfg.split_d),
                           ("--gp-weight", bool(cfg.gp_weight)), ("--ortho-reg", cfg.ortho_reg > 0),
                           ("--augment", bool(cfg.augment)), ("--reg", bool(cfg.reg)),
                           ("--accumulate", cfg.accumulate != 1)):
            if used:
                raise GancliError(f"{flag} is an option of --method gan, not of {cls.name}; "
                                  f"drop it (or start from --preset {cls.name})")

    def __init__(self, ctx: TrainContext):
        if ctx.conditional:  # before building: a labelled dataset with --cond left on auto
            raise GancliError(f"--method {self.name} is unconditional, but the data has labels and --cond is on "
                              "(the default for labelled data); pass --no-cond")
        super().__init__(ctx)
        cfg = ctx.cfg
        betas = (float(cfg.beta1), float(cfg.beta2))
        self.optimizers = {"g": torch.optim.Adam(self.nets["G"].parameters(), lr=cfg.lr_g, betas=betas),
                           "d": torch.optim.Adam(self.nets["D"].parameters(), lr=cfg.lr_d, betas=betas)}

    def _frozen_d(self, frozen: bool) -> None:
        # D's weights take no gradient in G's step; DDP needs every parameter in each backward
        if not self.ctx.distributed:
            self.nets["D"].requires_grad_(not frozen)


@METHODS.register("began")
class BEGANMethod(AutoencoderDMethod):
    name = "began"
    stat_labels = {"d_loss": "D", "g_loss": "G", "k_t": "k", "m_global": "M", "loss_real": "L(x)",
                   "loss_fake": "L(G(z))"}
    stat_formats = {"k_t": ".4f"}
    panels = {"losses": ("d_loss", "g_loss"), "reconstruction L": ("loss_real", "loss_fake"),
              "k_t": ("k_t",), "M_global": ("m_global",)}
    resumable_options = frozenset({"lr_halving"})

    @classmethod
    def check_config(cls, cfg: TrainConfig) -> None:
        super().check_config(cfg)
        if cfg.of("began").lr_halving and cfg.lr_decay:
            raise GancliError("--lr-halving and --lr-decay do not combine (--lr-decay sets every lr each step); "
                              "choose one")

    def __init__(self, ctx: TrainContext):
        super().__init__(ctx)
        self.k = torch.zeros((), device=ctx.device)  # k_0 = 0
        self.m_running = torch.zeros((), device=ctx.device)
        self.m_count = 0  # steps in the running mean
        self.m_best = float("inf")
        self.since_best = 0  # steps since the running mean last reached a new low

    def train_step(self) -> dict[str, torch.Tensor]:
        ctx, opts = self.ctx, self.options
        G, D = self.train_nets["G"], self.train_nets["D"]
        if opts.lr_halving and self.since_best >= opts.lr_halving:
            # at the start of the step, so the lr logged for a step is the one it used
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] *= 0.5
            self.since_best = 0
        real, _ = ctx.next_batch()
        b = real.shape[0]
        with ctx.autocast(), torch.no_grad():
            fake = G(ctx.draw_z(b))
        with ctx.autocast():  # one D forward over [x; G(z_D)]: D has no batch statistics
            recon = D(torch.cat([real, fake.to(real.dtype)]))
        loss_real = reconstruction_loss(real, recon[:b])
        loss_fake = reconstruction_loss(fake, recon[b:])
        d_loss = loss_real - self.k * loss_fake
        ctx.backward_step(d_loss, self.optimizers["d"])

        self._frozen_d(True)
        with ctx.autocast():
            fake_g = G(ctx.draw_z(b))
            recon_g = D(fake_g)
        g_loss = reconstruction_loss(fake_g, recon_g)  # gradients through G(z) and D(G(z))
        ctx.backward_step(g_loss, self.optimizers["g"])
        self._frozen_d(False)

        loss_real, loss_fake, g_loss = loss_real.detach(), loss_fake.detach(), g_loss.detach()
        if ctx.distributed:  # k_t and M_global from the global batch, so every rank keeps the same k

            pooled = torch.stack([loss_real, loss_fake, g_loss])
            dist.all_reduce(pooled)
            loss_real, loss_fake, g_loss = (pooled / dist.get_world_size()).unbind()
        self.k = k_update(self.k, loss_real, g_loss, opts.gamma, opts.lambda_k)
        measure = m_global(loss_real, g_loss, opts.gamma)
        self._track(measure)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss, "k_t": self.k.clone(), "m_global": measure,
                "loss_real": loss_real, "loss_fake": loss_fake}

    def _track(self, measure: torch.Tensor) -> None:
        """The running mean of M_global and, with --lr-halving, the steps since its last new low
        (one host sync per step, only when on); the next step halves both lrs at --lr-halving."""
        decay = M_RUNNING_DECAY if self.m_count else 0.0
        self.m_running = decay * self.m_running + (1.0 - decay) * measure
        self.m_count += 1
        if self.options.lr_halving:
            self.m_best, self.since_best = stall_update(float(self.m_running), self.m_best, self.since_best)

    def state_dict(self) -> dict[str, Any]:
        return {"k_t": self.k.detach().clone(), "m_running": self.m_running.detach().clone(),
                "m_count": self.m_count, "m_best": self.m_best, "since_best": self.since_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = self.ctx.device
        self.k = torch.as_tensor(state["k_t"], dtype=torch.float32).to(device)
        self.m_running = torch.as_tensor(state["m_running"], dtype=torch.float32).to(device)
        self.m_count = int(state["m_count"])
        self.m_best = float(state["m_best"])
        self.since_best = int(state["since_best"])
