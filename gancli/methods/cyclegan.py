"""``--method cyclegan``: unpaired image-to-image translation (Zhu et al. 2017), trained as
junyanz/pytorch-CycleGAN-and-pix2pix trains it.

Networks (``--model cyclegan``): G_AB: A -> B and G_BA: B -> A (the paper's G and F), D_A judging
A images and D_B judging B images (the paper's D_X, D_Y; note that the reference code calls the
D of B images ``netD_A``, after the generator whose outputs it judges). One iteration, with a
batch ``a`` of A and an independent batch ``b`` of B (``--batch-size``, 1 in the paper):

    fake_b = G_AB(a), rec_a = G_BA(fake_b), fake_a = G_BA(b), rec_b = G_AB(fake_a)
    G step (D frozen), one Adam over both generators:
        g_a     = adv(D_B(fake_b))                  g_b     = adv(D_A(fake_a))
        cycle_a = λ_cyc |rec_a − a|_1              cycle_b = λ_cyc |rec_b − b|_1
        idt_a   = λ_cyc λ_id |G_AB(b) − b|_1        idt_b   = λ_cyc λ_id |G_BA(a) − a|_1
    D step, one Adam over both discriminators, each on a fake from its image pool:
        d_a = ½ [adv_real(D_A(a)) + adv_fake(D_A(pool_A(fake_a)))]
        d_b = ½ [adv_real(D_B(b)) + adv_fake(D_B(pool_B(fake_b)))]

``adv`` is ``--loss``: ls (the paper's least squares: (D − 1)², D²), hinge or ns. The statistics
keep the reference's loss names: G_A/cycle_A/idt_A are the terms of G_AB (the reference's G_A),
D_A/D_B the losses of the Ds judging A and B images. The image pools (``--pool-size``, 50) are the
method's state: saved in every checkpoint with their random generators, so a resume is bit-exact.
``--lambda-cyc`` (10), ``--lambda-id`` (0.5, relative to λ_cyc; 0 skips the identity forwards).

Grids show fixed test images of both domains, one per row: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b),
G_AB(G_BA(b)). At every log step the collapse ratio (:mod:`gancli.methods.collapse`) of WATCH_N
fixed test translations is logged per direction, and a ratio below COLLAPSE_RATIO raises the
collapse alarm (metrics.jsonl ``alarm``, the progress line). A new generator draws nothing yet (its
ratio is near 0), so the alarm is armed only once both ratios have reached COLLAPSE_RATIO, or at
ALARM_WARMUP of the run's steps, whichever comes first (saved with the pools: a resumed run
keeps it armed).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gancli.config import ModelConfig, TrainConfig
from gancli.errors import GancliError
from gancli.losses import get_loss
from gancli.methods.base import METHODS, Method, TrainContext
from gancli.methods.collapse import COLLAPSE_RATIO, collapse_ratio
from gancli.methods.cycle_losses import cycle_loss, identity_loss
from gancli.methods.image_pool import ImagePool
from gancli.models import MODELS, build_network

GRID_ROWS = 8  # test images per domain in the progress grid
ALARM_WARMUP = 0.25  # the alarm is armed at this fraction of the steps, or once both ratios reached COLLAPSE_RATIO
WATCH_N = 32  # test images per domain the collapse ratio is measured on
LOSSES = ("ls", "hinge", "ns")
GENERATORS = ("G_AB", "G_BA")
DISCRIMINATORS = ("D_A", "D_B")


@dataclass
class TranslationLayout:
    """Fixed test images of each domain, (n, C, H, W) in [-1, 1], on the CPU."""

    a: torch.Tensor
    b: torch.Tensor


def test_images(dataset, n: int, seed: int) -> TranslationLayout:
    """``n`` test images of each domain of a two-domain dataset (fewer if the test split is smaller),
    the same for every step of a run: a seeded draw without replacement."""
    test = dataset.split_of("test")
    g = torch.Generator().manual_seed(seed + 24680)
    picks = {}
    for domain in ("a", "b"):
        data = getattr(test, domain)
        order = torch.randperm(len(data), generator=g)[:n].sort().values
        picks[domain] = data.get_batch(order)[0]
    return TranslationLayout(**picks)


@torch.no_grad()
def translate_both(nets: dict[str, nn.Module], a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    """{fake_b, rec_a, fake_a, rec_b}: both directions and both cycles of a, b."""
    fake_b = nets["G_AB"](a)
    fake_a = nets["G_BA"](b)
    return {"fake_b": fake_b, "rec_a": nets["G_BA"](fake_b), "fake_a": fake_a, "rec_b": nets["G_AB"](fake_a)}


def triplet_rows(a: torch.Tensor, b: torch.Tensor, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """(6n, C, H, W): per row i: a_i, G_AB(a_i), G_BA(G_AB(a_i)), b_i, G_BA(b_i), G_AB(G_BA(b_i))."""
    n = min(len(a), len(b))
    columns = [a[:n], out["fake_b"][:n], out["rec_a"][:n], b[:n], out["fake_a"][:n], out["rec_b"][:n]]
    return torch.stack([c.to(a.device).float() for c in columns], dim=1).flatten(0, 1)


@METHODS.register("cyclegan")
class CycleGANMethod(Method):
    name = "cyclegan"
    generator = "G_AB"
    ema_networks = GENERATORS
    unconditional = True
    two_domain = True
    stat_labels = {"d_a": "D_A", "d_b": "D_B", "g_a": "G_A", "g_b": "G_B", "cycle_a": "cyc_A", "cycle_b": "cyc_B",
                   "idt_a": "idt_A", "idt_b": "idt_B"}
    panels = {"discriminators": ("d_a", "d_b"), "adversarial (G)": ("g_a", "g_b"),
              "cycle consistency": ("cycle_a", "cycle_b"), "identity": ("idt_a", "idt_b"),
              "collapse ratio": ("collapse_ab", "collapse_ba")}

    @classmethod
    def network_names(cls, model_cfg: ModelConfig) -> tuple[str, ...]:
        return GENERATORS + DISCRIMINATORS

    @classmethod
    def build_network(cls, model_cfg: ModelConfig, name: str) -> nn.Module:
        return build_network(model_cfg, "G" if name in GENERATORS else "D")

    @classmethod
    def check_config(cls, cfg: TrainConfig) -> None:
        if not MODELS.get(cfg.model.name).translator:
            raise GancliError(f"--method cyclegan translates images; it needs --model cyclegan, not {cfg.model.name}")
        if cfg.loss not in LOSSES:
            raise GancliError(f"--method cyclegan takes --loss {', '.join(LOSSES)} (ls is the paper's), not {cfg.loss}")
        if cfg.cond:
            raise GancliError("--method cyclegan takes no labels; drop --cond")
        if cfg.n_dis != 1:
            raise GancliError(f"--method cyclegan does one G and one D update per step; --n-dis must be 1, got {cfg.n_dis}")
        for flag, used in (("--reuse-fake", cfg.reuse_fake), ("--split-d", cfg.split_d),
                           ("--gp-weight", bool(cfg.gp_weight)), ("--ortho-reg", cfg.ortho_reg > 0),
                           ("--augment", bool(cfg.augment)), ("--reg", bool(cfg.reg)),
                           ("--accumulate", cfg.accumulate != 1)):
            if used:
                raise GancliError(f"{flag} is an option of --method gan, not of cyclegan; drop it")
        if cfg.eval_every:
            raise GancliError("--eval-every scores samples of G(z) while training; a CycleGAN run is scored after "
                              "training with gancli eval RUN (FID per direction, error against the true translation)")

    def __init__(self, ctx: TrainContext):
        super().__init__(ctx)
        cfg = ctx.cfg
        betas = (float(cfg.beta1), float(cfg.beta2))
        self.loss = get_loss(cfg.loss)
        self.optimizers = {
            "g": torch.optim.Adam(itertools.chain(*(self.nets[n].parameters() for n in GENERATORS)), lr=cfg.lr_g,
                                  betas=betas),
            "d": torch.optim.Adam(itertools.chain(*(self.nets[n].parameters() for n in DISCRIMINATORS)), lr=cfg.lr_d,
                                  betas=betas),
        }
        # each pool's coin flips come from its own generator, seeded from the run's RNG (per rank)
        seeds = torch.randint(2**62, (2,)).tolist()
        pool = self.options.pool_size
        self.pools = {"A": ImagePool(pool, seed=seeds[0]), "B": ImagePool(pool, seed=seeds[1])}
        self.joint_d = ctx.model_cfg.d_norm != "bn"  # real and fake in one D forward unless D has batch statistics
        self.alarm_armed = False

    def _frozen_d(self, frozen: bool) -> None:
        if not self.ctx.distributed:  # DDP needs every parameter in each backward
            for name in DISCRIMINATORS:
                self.nets[name].requires_grad_(not frozen)

    def _d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        with self.ctx.autocast():
            if self.joint_d:
                out = D(torch.cat([real, fake.to(real.dtype)])).float()
                out_real, out_fake = out[: len(real)], out[len(real):]
            else:
                out_real, out_fake = D(real).float(), D(fake).float()
        return 0.5 * (self.loss.d_loss_real(out_real) + self.loss.d_loss_fake(out_fake))

    def train_step(self) -> dict[str, torch.Tensor]:
        ctx, opts = self.ctx, self.options
        G_AB, G_BA, D_A, D_B = (self.train_nets[n] for n in GENERATORS + DISCRIMINATORS)
        a, _ = ctx.next_batch("A")
        b, _ = ctx.next_batch("B")

        self._frozen_d(True)
        with ctx.autocast():
            fake_b = G_AB(a)
            rec_a = G_BA(fake_b)
            fake_a = G_BA(b)
            rec_b = G_AB(fake_a)
            g_a = self.loss.g_loss(D_B(fake_b).float())
            g_b = self.loss.g_loss(D_A(fake_a).float())
            if opts.lambda_id > 0:
                idt_a = identity_loss(G_AB(b).float(), b, opts.lambda_cyc, opts.lambda_id)
                idt_b = identity_loss(G_BA(a).float(), a, opts.lambda_cyc, opts.lambda_id)
            else:
                idt_a = idt_b = torch.zeros((), device=ctx.device)
        cycle_a = cycle_loss(rec_a.float(), a, opts.lambda_cyc)
        cycle_b = cycle_loss(rec_b.float(), b, opts.lambda_cyc)
        ctx.backward_step(g_a + g_b + cycle_a + cycle_b + idt_a + idt_b, self.optimizers["g"])
        self._frozen_d(False)

        d_a = self._d_loss(D_A, a, self.pools["A"].query(fake_a.detach()))
        d_b = self._d_loss(D_B, b, self.pools["B"].query(fake_b.detach()))
        ctx.backward_step(d_a + d_b, self.optimizers["d"])
        return {"d_a": d_a.detach(), "d_b": d_b.detach(), "g_a": g_a.detach(), "g_b": g_b.detach(),
                "cycle_a": cycle_a.detach(), "cycle_b": cycle_b.detach(), "idt_a": idt_a.detach(),
                "idt_b": idt_b.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"pool_a": self.pools["A"].state_dict(), "pool_b": self.pools["B"].state_dict(),
                "alarm_armed": self.alarm_armed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alarm_armed = bool(state.get("alarm_armed", False))
        for domain in ("A", "B"):
            pool_state = dict(state[f"pool_{domain.lower()}"])
            pool_state["images"] = pool_state["images"].to(self.ctx.device)
            self.pools[domain].load_state_dict(pool_state)

    # ---------------------------------------------------------------- what the loop shows
    def grid_layout(self, dataset, seed: int) -> TranslationLayout:
        return test_images(dataset, WATCH_N, seed)

    def grid_images(self, nets: dict[str, nn.Module], layout: TranslationLayout) -> tuple[torch.Tensor, int]:
        a, b = layout.a[:GRID_ROWS].to(self.ctx.device), layout.b[:GRID_ROWS].to(self.ctx.device)
        return triplet_rows(a, b, translate_both(nets, a, b)), 6

    def real_grid(self, dataset, layout: TranslationLayout, seed: int) -> torch.Tensor | None:
        return None  # the grid shows its inputs

    def watch(self, nets: dict[str, nn.Module], layout: TranslationLayout, step: int):
        a, b = layout.a.to(self.ctx.device), layout.b.to(self.ctx.device)
        with torch.no_grad():
            ratios = {"collapse_ab": collapse_ratio(nets["G_AB"](a), a),
                      "collapse_ba": collapse_ratio(nets["G_BA"](b), b)}
        if min(ratios.values()) >= COLLAPSE_RATIO or step >= ALARM_WARMUP * self.ctx.cfg.steps:
            self.alarm_armed = True
        low = [f"{'A->B' if key.endswith('ab') else 'B->A'} {value:.2f}" for key, value in ratios.items()
               if value < COLLAPSE_RATIO]
        if not (low and self.alarm_armed):
            return ratios, None
        return ratios, (f"collapse at step {step}: translations share one pose (ratio {', '.join(low)} < "
                        f"{COLLAPSE_RATIO} of the inputs' pose diversity)")


__all__ = ["CycleGANMethod", "TranslationLayout", "test_images", "translate_both", "triplet_rows"]
