"""``--method gan`` (the default): one G/D pair trained with a per-logit loss.

One iteration = ``n_dis`` D steps then one G step (SAGAN: hinge loss, Adam(0.0, 0.9), lr_D = 4 lr_G,
n_dis 1). Real and fake images go through D as one concatenated batch, so spectral norm does one
power iteration per D step; ``--split-d`` runs the two halves one after the other (the second
with SN frozen), and with a gradient penalty the interpolates join the real and fake images in
that one D call: neither adds a power iteration.
Options: ``--loss`` (hinge, ns, wgan-gp, ls), ``--gp-weight``, ``--n-dis``, ``--lr-g/--lr-d``
(TTUR), ``--reuse-fake``, ``--split-d``, ``--ortho-reg``.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from gancli.losses import get_loss, interpolates, orthogonal_regularization, penalty_of
from gancli.methods.base import METHODS, Method, TrainContext


@contextlib.contextmanager
def sn_frozen(net: nn.Module):
    """Runs ``net`` in eval mode: spectral norm uses its current u, v without a power iteration
    (they were just updated by the step's first forward, so sigma is the same)."""
    was_training = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was_training)


@METHODS.register("gan")
class GANMethod(Method):
    name = "gan"
    stat_labels = {"d_loss": "D", "g_loss": "G", "d_real": "D(x)", "d_fake": "D(G(z))"}
    stat_formats = {"d_real": "+.2f", "d_fake": "+.2f"}
    panels = {"losses": ("d_loss", "g_loss"), "D outputs": ("d_real", "d_fake")}
    resumable_options = frozenset({"split_d"})

    @classmethod
    def check_config(cls, cfg) -> None:
        from gancli.errors import GancliError
        from gancli.models import MODELS

        loss = get_loss(cfg.loss, gp_weight=cfg.gp_weight)
        if loss.gp_weight and cfg.model.d_norm == "bn":
            # Gulrajani et al. 2017 (§4): the penalty is on each input's own gradient norm, and batch
            # norm makes a critic's output depend on the rest of the batch, so the penalty would
            # couple the samples of [real; fake; x_hat]; they replace BN by layer norm in the critic
            raise GancliError(f"a gradient penalty (--loss {cfg.loss}{'' if cfg.gp_weight is None else f', --gp-weight {cfg.gp_weight:g}'}) "
                              "needs a critic without batch norm: BN makes D(x) depend on the whole batch, so "
                              "the penalty would no longer be per sample (Gulrajani et al. use layer norm); "
                              "choose --d-norm ln, sn or none")
        if cfg.split_d and cfg.model.d_norm == "bn":
            raise GancliError("--split-d with --d-norm bn would give D's batch norm two batches (real, then fake) "
                              "instead of one: the gradients would differ from the joint pass; drop one of them")
        if MODELS.get(cfg.model.name).autoencoder_d:
            raise GancliError(f"model {cfg.model.name}'s D is an autoencoder (it returns a reconstruction, not a "
                              "logit); train it with --method began or --method ebgan")
        if cfg.reuse_fake and cfg.n_dis != 1:
            raise GancliError("--reuse-fake needs --n-dis 1 (the G step reuses the one D step's fakes)")

    def __init__(self, ctx: TrainContext):
        super().__init__(ctx)
        cfg = ctx.cfg
        betas = (float(cfg.beta1), float(cfg.beta2))
        self.optimizers = {"g": torch.optim.Adam(self.nets["G"].parameters(), lr=cfg.lr_g, betas=betas),
                           "d": torch.optim.Adam(self.nets["D"].parameters(), lr=cfg.lr_d, betas=betas)}
        self.loss = get_loss(cfg.loss, gp_weight=cfg.gp_weight)
        # two passes (less memory) or one concatenated pass (faster GEMMs); DDP needs one forward
        # per backward, so it always takes the joint pass
        self.split_d = cfg.split_d and not ctx.distributed

    def train_step(self) -> dict[str, torch.Tensor]:
        ctx, cfg = self.ctx, self.ctx.cfg
        G, D = self.train_nets["G"], self.train_nets["D"]
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        b = cfg.batch_size
        fake_for_g = None
        for _ in range(cfg.n_dis):
            real, y_real = ctx.next_batch()
            # the gradient penalty interpolates real and fake images: give both the same labels
            y_fake = y_real if (self.loss.gp_weight and ctx.conditional) else ctx.fake_labels(b)
            z = ctx.draw_z(b)
            with ctx.autocast():
                if cfg.reuse_fake:
                    fake_for_g = G(z, y_fake)
                    fake, y_fake_for_g = fake_for_g.detach(), y_fake
                else:
                    with torch.no_grad():
                        fake = G(z, y_fake)
            opt_d.zero_grad(set_to_none=True)
            if self.loss.gp_weight:
                d_loss, d_real, d_fake = self._d_step_with_penalty(D, real, fake, y_real)
            elif self.split_d:
                # each half is back-propagated at once, so only one half's activations live at a
                # time; the second runs SN frozen at the u, v the first just updated, so D still
                # does one power iteration and gets the same gradients as one joint pass
                with ctx.autocast():
                    d_real = D(real, y_real).float()
                    part = self.loss.d_loss_real(d_real)
                ctx.accumulate(part)
                with sn_frozen(self.nets["D"]):
                    with ctx.autocast():
                        d_fake = D(fake.to(real.dtype), y_fake).float()
                        part_fake = self.loss.d_loss_fake(d_fake)
                    ctx.accumulate(part_fake)
                d_loss = part.detach() + part_fake.detach()
            else:
                with ctx.autocast():
                    y_both = torch.cat([y_real, y_fake]) if ctx.conditional else None
                    logits = D(torch.cat([real, fake.to(real.dtype)]), y_both).float()
                    d_real, d_fake = logits[:b], logits[b:]
                    d_loss = self.loss.d_loss(d_real, d_fake)
                ctx.accumulate(d_loss)
            ctx.optimizer_step(opt_d)

        freeze_d = not ctx.distributed  # DDP needs every parameter to take part in backward
        if freeze_d:
            self.nets["D"].requires_grad_(False)
        with ctx.autocast():
            if cfg.reuse_fake:
                fake, y_fake = fake_for_g, y_fake_for_g
            else:
                y_fake = ctx.fake_labels(b)
                fake = G(ctx.draw_z(b), y_fake)
            g_loss = self.loss.g_loss(D(fake, y_fake).float())
            if cfg.ortho_reg > 0:
                g_loss = g_loss + cfg.ortho_reg * orthogonal_regularization(self.nets["G"])
        ctx.backward_step(g_loss, opt_g)
        if freeze_d:
            self.nets["D"].requires_grad_(True)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}

    def _d_step_with_penalty(self, D, real, fake, y):
        """One D forward over [real; fake; x_hat] and one backward of L_D + lambda * GP: one power
        iteration, one gradient all-reduce under DDP (a separate penalty backward left DDP's
        reducer waiting), and real, fake and interpolates share the labels ``y``.
        x_hat = eps x_real + (1 - eps) x_fake, eps ~ U(0, 1) per sample (Gulrajani et al. 2017)."""
        ctx, b = self.ctx, real.shape[0]
        x_hat = interpolates(real.float(), fake.float())
        y3 = torch.cat([y, y, y]) if ctx.conditional else None
        # the penalty is differentiated twice; fused attention kernels have no double backward
        with sdpa_kernel(SDPBackend.MATH), ctx.autocast():
            logits = D(torch.cat([real, fake.to(real.dtype), x_hat.to(real.dtype)]), y3).float()
        d_real, d_fake, d_hat = logits[:b], logits[b: 2 * b], logits[2 * b:]
        d_loss = self.loss.d_loss(d_real, d_fake) + self.loss.gp_weight * penalty_of(d_hat, x_hat)
        ctx.accumulate(d_loss)
        return d_loss.detach(), d_real, d_fake
