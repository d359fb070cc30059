"""``--method gan`` (the default): one G/D pair trained with a per-logit loss.

One iteration = ``n_dis`` D steps then one G step (SAGAN: hinge loss, Adam(0.0, 0.9), lr_D = 4 lr_G,
n_dis 1). Real and fake images go through D as one concatenated batch, so spectral norm does one
power iteration per D step; ``--split-d`` runs the two halves one after the other (the second
with SN frozen), and with a gradient penalty the interpolates join the real and fake images in
that one D call: neither adds a power iteration.
Options: ``--loss`` (hinge, ns, wgan-gp, ls), ``--gp-weight``, ``--n-dis``, ``--lr-g/--lr-d``
(TTUR), ``--reuse-fake``, ``--split-d``, ``--ortho-reg``.

Parts it composes (each its own module, options and state; docs/diversity.md):
- ``--augment diffaug|ada`` (``gancli.augment``): every image D sees, real and generated, in D's and
  G's steps, goes through the augment T; G's gradient flows through T.
- ``--reg NAME[:weight]`` (``gancli.regularizers``): terms added to D's loss from the step's D pass
  (LeCam, CR, bCR, R1); their extra images (CR's T(x)) join the same D call.
- ``--accumulate K``: each D step and the G step run over K batches of ``--batch-size``, each
  back-propagated at once (activations of one batch at a time) with its loss divided by K, then one
  optimizer step: the gradient of one batch of K * B, to float rounding, where no layer has batch
  statistics. Spectral norm does its power iteration in the first batch only (the later ones use its
  sigma, as one K * B forward would). Batch norm sees batches of B (as BigGAN-PyTorch's
  accumulation): G's BN statistics and running averages come from each batch; so do LeCam's running
  means (as in the authors' BigGAN code under its D accumulations) and ADA's signs (those add up).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from gancli.augment import build_augment, check_augment
from gancli.layers.spectral import power_iteration_off
from gancli.losses import get_loss, interpolates, orthogonal_regularization, penalty_of
from gancli.methods.base import METHODS, Method, TrainContext
from gancli.regularizers import DStep, build_regs, check_regs
from gancli.errors import GancliError
from gancli.models import MODELS

MAX_ACCUMULATE = 1024  # batches per step: more is a typo (and hours per step)
DIVERSITY_ALARM = 0.25  # div below this: G's images spread a quarter of the real ones' in D's features
ALARM_WARMUP = 0.25  # the alarm is armed once div reached DIVERSITY_ALARM, or after this share of the steps
ALARM_MIN_STEPS = 200  # ... but never before this step: G draws nothing yet in a short run's first steps


def head_features(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """phi(x): what D's output layer (its projection ``head``) reads, (N, F) float."""
    captured = {}

    def keep(module, args):  # returns None: a pre-hook's return value would replace the arguments
        captured["h"] = args[0]

    handle = D.head.register_forward_pre_hook(keep)
    try:
        D(x, y)
    finally:
        handle.remove()
    return captured["h"].float().flatten(1)


def spread(h: torch.Tensor) -> torch.Tensor:
    """Mean pairwise Euclidean distance of the rows of h (N >= 2)."""
    n = h.shape[0]
    return torch.cdist(h, h).sum() / (n * (n - 1))


def feature_spread_ratio(D: nn.Module, fake: torch.Tensor, real: torch.Tensor, y: torch.Tensor | None) -> float:
    """spread(phi(fake)) / spread(phi(real)) in D's features, on images of the same layout (the same
    labels): near 1 when G's images vary as much as the data in what D looks at, towards 0 when G
    draws one image (per label) whatever z is. D in eval mode: no power iteration, BN on its averages."""
    with torch.no_grad():
        base = spread(head_features(D, real, y))
        return float(spread(head_features(D, fake, y)) / base) if base > 0 else 1.0


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
    panels = {"losses": ("d_loss", "g_loss"), "D outputs": ("d_real", "d_fake"), "diversity (fake / real spread)": ("div", "spread"),
              "ADA": ("ada_p", "ada_rt"), "LeCam running means": ("lecam_alpha_real", "lecam_alpha_fake")}
    resumable_options = frozenset({"split_d"})

    @classmethod
    def check_config(cls, cfg) -> None:

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
        check_augment(cfg)
        opts = cfg.of(cls.name)
        if (opts.augment or "").partition(":")[0] != "ada":
            for name in ("ada_target", "ada_interval", "ada_kimg"):
                if getattr(opts, name) != getattr(type(opts)(), name):
                    raise GancliError(f"--{name.replace('_', '-')} steers --augment ada; without it, drop it")
        regs = check_regs(opts.reg)
        if regs and cfg.split_d:
            raise GancliError("--split-d back-propagates D's real and fake halves separately; --reg needs D's outputs "
                              "on both in one pass: drop one of them")
        if not 1 <= opts.accumulate <= MAX_ACCUMULATE:
            raise GancliError(f"--accumulate must be between 1 and {MAX_ACCUMULATE}, got {opts.accumulate}")
        if opts.accumulate > 1 and cfg.reuse_fake:
            raise GancliError("--accumulate runs a step over several batches to save memory; --reuse-fake would keep "
                              "every batch's G graph alive: add --no-reuse-fake")
        if opts.accumulate > 1 and cfg.model.d_norm == "bn":
            raise GancliError("--accumulate with --d-norm bn: D's batch norm would see each batch of the step apart, "
                              "so the step is not the gradient of the whole; drop one of them")
        if cfg.model.mbstd and cfg.batch_size % cfg.model.mbstd:
            raise GancliError(f"--mbstd {cfg.model.mbstd} groups the images of D's batch: --batch-size must be a "
                              f"multiple of it (got {cfg.batch_size}), so that no group mixes real and generated ones")

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
        self.augment = build_augment(cfg)
        self.regs = build_regs(self.options.reg)
        self.chunks = self.options.accumulate
        self.alarm_armed = False
        # the parts' statistics go to metrics.jsonl; the progress line shows p (ADA), div and (shapes runs:
        # the trainer's factor probe) spread
        quiet = {"ada_rt": "", "lecam_alpha_real": "", "lecam_alpha_fake": ""}
        self.stat_labels = {**self.stat_labels, "div": "div", "spread": "spread", "ada_p": "p", **quiet,
                            **{f"reg_{reg.name}": "" for reg in self.regs}}

    def _to_d(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch: the augment's T(x), or x itself."""
        return self.augment(x) if self.augment is not None else x

    def train_step(self) -> dict[str, torch.Tensor]:
        ctx, cfg = self.ctx, self.ctx.cfg
        G, D = self.train_nets["G"], self.train_nets["D"]
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        b, k = cfg.batch_size, self.chunks
        fake_for_g = None
        for _ in range(cfg.n_dis):
            opt_d.zero_grad(set_to_none=True)
            parts = []
            for chunk in range(k):
                # batches after the first reuse the step's sigma: one power iteration per step
                with power_iteration_off(self.nets["G"], self.nets["D"]) if chunk else contextlib.nullcontext():
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
                    parts.append(self._d_pass(D, real, fake, y_real, y_fake))
            ctx.optimizer_step(opt_d)
            d_loss, d_real, d_fake = (parts[0] if k == 1 else
                                      (sum(p[0] for p in parts) / k, torch.cat([p[1] for p in parts]),
                                       torch.cat([p[2] for p in parts])))

        freeze_d = not ctx.distributed  # DDP needs every parameter to take part in backward
        if freeze_d:
            self.nets["D"].requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        g_losses = []
        for chunk in range(k):
            with power_iteration_off(self.nets["G"], self.nets["D"]) if chunk else contextlib.nullcontext():
                with ctx.autocast():
                    if cfg.reuse_fake:
                        fake, y_fake = fake_for_g, y_fake_for_g
                    else:
                        y_fake = ctx.fake_labels(b)
                        fake = G(ctx.draw_z(b), y_fake)
                    g_loss = self.loss.g_loss(D(self._to_d(fake), y_fake).float())
                    if cfg.ortho_reg > 0:
                        g_loss = g_loss + cfg.ortho_reg * orthogonal_regularization(self.nets["G"])
                ctx.accumulate(g_loss / k if k > 1 else g_loss)
                g_losses.append(g_loss.detach())
        ctx.optimizer_step(opt_g)
        if freeze_d:
            self.nets["D"].requires_grad_(True)
        stats = {"d_loss": d_loss.detach(), "g_loss": g_losses[0] if k == 1 else sum(g_losses) / k,
                 "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}
        if self.augment is not None:
            self.augment.after_step(0, b * k * cfg.n_dis, ctx.distributed)
            stats.update(self.augment.stats())
        for reg in self.regs:
            stats.update(reg.stats())
        return stats

    def _d_pass(self, D, real, fake, y_real, y_fake) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One batch of a D step: D's loss (with the penalty and the regularisers) back-propagated
        (divided by the number of batches of an accumulated step); returns (d_loss, d_real, d_fake)."""
        ctx, k = self.ctx, self.chunks
        if self.augment is not None:
            real, fake = self.augment(real), self.augment(fake.to(real.dtype))
        if self.loss.gp_weight:
            d_loss, d_real, d_fake = self._d_step_with_penalty(D, real, fake, y_real)
        elif self.split_d:
            # each half is back-propagated at once, so only one half's activations live at a
            # time; the second runs SN frozen at the u, v the first just updated, so D still
            # does one power iteration and gets the same gradients as one joint pass
            with ctx.autocast():
                d_real = D(real, y_real).float()
                part = self.loss.d_loss_real(d_real)
            ctx.accumulate(part / k if k > 1 else part)
            with sn_frozen(self.nets["D"]):
                with ctx.autocast():
                    d_fake = D(fake.to(real.dtype), y_fake).float()
                    part_fake = self.loss.d_loss_fake(d_fake)
                ctx.accumulate(part_fake / k if k > 1 else part_fake)
            d_loss = part.detach() + part_fake.detach()
        elif self.regs:
            d_loss, d_real, d_fake = self._d_step_with_regs(D, real, fake, y_real, y_fake)
        else:
            b = real.shape[0]
            with ctx.autocast():
                y_both = torch.cat([y_real, y_fake]) if ctx.conditional else None
                logits = D(torch.cat([real, fake.to(real.dtype)]), y_both).float()
                d_real, d_fake = logits[:b], logits[b:]
                d_loss = self.loss.d_loss(d_real, d_fake)
            ctx.accumulate(d_loss / k if k > 1 else d_loss)
        if self.augment is not None:
            self.augment.observe(d_real)
        return d_loss.detach(), d_real.detach(), d_fake.detach()

    def _d_step_with_regs(self, D, real, fake, y_real, y_fake):
        """The joint pass with the regularisers: their extra images join [real; fake] in one D call;
        R1 differentiates D(real) with respect to real (twice: ``create_graph``)."""
        ctx, k, b = self.ctx, self.chunks, real.shape[0]
        if any(reg.needs_input_grad for reg in self.regs):
            real = real.detach().requires_grad_(True)
        fake = fake.detach().to(real.dtype)
        extras = [reg.extra_inputs(real, fake, y_real, y_fake) for reg in self.regs]
        images = [real, fake] + [e[0] for e in extras if e is not None]
        labels = [y_real, y_fake] + [e[1] for e in extras if e is not None] if ctx.conditional else None
        double_backward = any(reg.needs_input_grad for reg in self.regs)
        with sdpa_kernel(SDPBackend.MATH) if double_backward else contextlib.nullcontext(), ctx.autocast():
            logits = D(torch.cat(images), torch.cat(labels) if labels is not None else None).float()
        d_real, d_fake = logits[:b], logits[b: 2 * b]
        d_loss = self.loss.d_loss(d_real, d_fake)
        start = 2 * b
        for reg, extra in zip(self.regs, extras):
            extra_logits = None
            if extra is not None:
                extra_logits = logits[start: start + len(extra[0])]
                start += len(extra[0])
            d_loss = d_loss + reg(DStep(real, fake, y_real, y_fake, d_real, d_fake, extra_logits))
        ctx.accumulate(d_loss / k if k > 1 else d_loss)
        return d_loss.detach(), d_real, d_fake

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
        ctx.accumulate(d_loss / self.chunks if self.chunks > 1 else d_loss)
        return d_loss.detach(), d_real, d_fake

    # ------------------------------------------------------------------ watching for collapse
    def grid_layout(self, dataset, seed: int):
        layout = super().grid_layout(dataset, seed)
        layout.real = self.real_grid(dataset, layout, seed)
        return layout

    def watch(self, nets, layout, step: int):
        """``div``: the spread of G's grid images in D's features over that of the real grid
        (:func:`feature_spread_ratio`); the collapse alarm when it stays below DIVERSITY_ALARM."""
        if layout.real is None or not hasattr(nets["D"], "head"):
            return {}, None
        device = self.ctx.device
        y = layout.y.to(device) if layout.y is not None else None
        with torch.no_grad():
            fake, _ = self.grid_images(nets, layout)
            self.watched_grid = fake
            ratio = feature_spread_ratio(nets["D"], fake, layout.real.to(device), y)
        if ratio >= DIVERSITY_ALARM or step >= max(ALARM_WARMUP * self.ctx.cfg.steps, ALARM_MIN_STEPS):
            self.alarm_armed = True
        if ratio >= DIVERSITY_ALARM or not self.alarm_armed:
            return {"div": ratio}, None
        return {"div": ratio}, (f"collapse at step {step}: G's images spread {ratio:.2f} of the real images' spread "
                                f"in D's features (< {DIVERSITY_ALARM}); see docs/diversity.md")

    def state_dict(self) -> dict:
        """The composed parts' own state: ADA's p and heuristic, LeCam's running means; whether the
        collapse alarm is armed."""
        state = {"alarm_armed": self.alarm_armed}
        if self.augment is not None:
            state["augment"] = self.augment.state_dict()
        if self.regs:
            state["regs"] = {reg.name: reg.state_dict() for reg in self.regs}
        return state

    def load_state_dict(self, state: dict) -> None:
        self.alarm_armed = bool(state.get("alarm_armed", False))
        if self.augment is not None and "augment" in state:
            self.augment.load_state_dict(state["augment"])
        for reg in self.regs:
            if reg.name in state.get("regs", {}):
                reg.load_state_dict(state["regs"][reg.name])
