"""ADA, adaptive discriminator augmentation (Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020,
"Training Generative Adversarial Networks with Limited Data").

Every image D sees (real and generated, in D's and G's steps) goes through a pipeline of transforms,
each applied to each image independently with probability p, in this order:

    xflip       mirror left-right                                  (i ~ U{0, 1})
    rotate90    k quarter turns                                    (k ~ U{0, 1, 2, 3})
    xint        integer translation by round(t * side), t ~ U(-1/8, 1/8) per axis, reflected borders
    brightness  + b, b ~ N(0, 0.2)
    contrast    × c about mid-grey, c = 2^N(0, 0.5)
    lumaflip    flip along the luma axis                           (i ~ U{0, 1})
    hue         rotation about the luma axis by theta ~ U(-pi, pi)
    saturation  scaling orthogonal to the luma axis, s = 2^N(0, 1)

the paper's "bc" pipeline ("blit" and colour, Table 4 / Fig. 4's defaults); its "g" ops (arbitrary
rotation and scaling, fractional translation) need its windowed-sinc resampling and are left out.
Each op with probability p < 1 leaves the un-augmented distribution recoverable, so nothing leaks
as long as p stays below ~0.8 (the paper's Fig. 3).

p starts at 0 and is steered by the overfitting heuristic r_t = E[sign(D(x_real))] over the D steps
of the last ``--ada-interval`` iterations (4): every interval, p += sign(r_t - target) *
(batch size * interval) / (ada_kimg * 1000), clamped to [0, 1]. With ``--ada-kimg`` 500 (the paper's)
p can go from 0 to 1 in 500k real images; gancli's CPU runs see a few tens of thousands, so its presets
pass a faster rate. p, the running sum of signs and the interval's position are saved in the
checkpoint; p and r_t are logged (``ada_p``, ``ada_rt``).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from gancli.augment import AUGMENTS, Augment
from gancli.augment.ops import apply_color, color_matrices, flip_x, fraction_of_side, rotate90, translate
from gancli.errors import GancliError
import torch.distributed as dist

BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # in log2 units
SATURATION_STD = 1.0  # in log2 units
XINT_MAX = 0.125


@AUGMENTS.register("ada")
class AdaptiveAugment(Augment):
    name = "ada"

    def __init__(self, target: float = 0.6, interval: int = 4, kimg: float = 500.0, p: float = 0.0):
        self.target, self.interval, self.kimg = float(target), int(interval), float(kimg)
        self.p = float(p)
        self.sign_sum = 0.0  # sum of sign(D(x_real)) since the last adjustment
        self.sign_count = 0
        self.steps = 0  # iterations since the last adjustment
        self.last_rt: float | None = None
        self._pending: list[torch.Tensor] = []  # this iteration's (sum, count), summed at after_step

    @classmethod
    def check(cls, cfg, ops: list[str]) -> None:
        if ops:
            raise GancliError("--augment ada takes no op list (its pipeline is fixed; tune --ada-target, "
                              "--ada-interval, --ada-kimg)")
        if not 0.0 < cfg.ada_target < 1.0:
            raise GancliError(f"--ada-target must be in (0, 1), got {cfg.ada_target}")
        if cfg.ada_interval < 1:
            raise GancliError(f"--ada-interval must be >= 1, got {cfg.ada_interval}")
        if not (math.isfinite(cfg.ada_kimg) and cfg.ada_kimg > 0):
            raise GancliError(f"--ada-kimg must be a positive number, got {cfg.ada_kimg}")

    @classmethod
    def from_config(cls, cfg, ops: list[str]) -> "AdaptiveAugment":
        cls.check(cfg, ops)
        return cls(cfg.ada_target, cfg.ada_interval, cfg.ada_kimg)

    # ------------------------------------------------------------------ the transforms
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.p <= 0.0:
            return x
        n, c, h, w = x.shape
        dev = x.device

        def gate(values: torch.Tensor, identity: float) -> torch.Tensor:
            return torch.where(torch.rand(n, device=dev) < self.p, values, torch.full_like(values, identity))

        x = flip_x(x, gate(torch.randint(0, 2, (n,), device=dev).float(), 0.0))
        if h == w:
            x = rotate90(x, gate(torch.randint(0, 4, (n,), device=dev).float(), 0.0).long())
        sy, sx = fraction_of_side(h, XINT_MAX), fraction_of_side(w, XINT_MAX)
        ty = gate(torch.round((torch.rand(n, device=dev) * 2 - 1) * XINT_MAX * h), 0.0).long().clamp(-sy, sy)
        tx = gate(torch.round((torch.rand(n, device=dev) * 2 - 1) * XINT_MAX * w), 0.0).long().clamp(-sx, sx)
        x = translate(x, tx, ty, max(sx, sy), fill="reflect")
        if c == 3:
            b = gate(torch.randn(n, device=dev) * BRIGHTNESS_STD, 0.0)
            contrast = gate(torch.exp2(torch.randn(n, device=dev) * CONTRAST_STD), 1.0)
            lumaflip = gate(torch.randint(0, 2, (n,), device=dev).float(), 0.0)
            hue = gate((torch.rand(n, device=dev) * 2 - 1) * math.pi, 0.0)
            saturation = gate(torch.exp2(torch.randn(n, device=dev) * SATURATION_STD), 1.0)
            x = apply_color(x, color_matrices(n, b.cpu(), contrast.cpu(), lumaflip.cpu(), hue.cpu(),
                                              saturation.cpu()))
        else:  # one channel: brightness and contrast only (the colour matrices act on RGB)
            x = x + gate(torch.randn(n, device=dev) * BRIGHTNESS_STD, 0.0).view(-1, 1, 1, 1)
            x = x * gate(torch.exp2(torch.randn(n, device=dev) * CONTRAST_STD), 1.0).view(-1, 1, 1, 1)
        return x

    # ------------------------------------------------------------------ steering p
    def observe(self, d_real: torch.Tensor) -> None:
        d = d_real.detach().float()
        self._pending.append(torch.stack([torch.sign(d).sum(), torch.tensor(float(d.numel()), device=d.device)]))

    def after_step(self, step: int, batch_size: int, distributed: bool) -> None:
        self.steps += 1
        if self.steps < self.interval:
            return
        world = 1
        if self._pending:  # one host sync per interval, not per step
            pooled = torch.stack(self._pending).sum(0)
            self._pending = []
            if distributed:

                dist.all_reduce(pooled)
                world = dist.get_world_size()
            self.sign_sum += float(pooled[0])
            self.sign_count += int(pooled[1])
        if self.sign_count:
            rt = self.sign_sum / self.sign_count
            direction = (rt > self.target) - (rt < self.target)  # sign(r_t - target)
            images = batch_size * world * self.steps
            self.p = min(1.0, max(0.0, self.p + direction * images / (self.kimg * 1000)))
            self.last_rt = rt
        self.sign_sum, self.sign_count, self.steps = 0.0, 0, 0

    def stats(self) -> dict[str, torch.Tensor]:
        out = {"ada_p": torch.tensor(self.p)}
        if self.last_rt is not None:
            out["ada_rt"] = torch.tensor(self.last_rt)
        return out

    def state_dict(self) -> dict[str, Any]:
        pending = torch.stack(self._pending).sum(0).cpu() if self._pending else torch.zeros(2)
        return {"p": self.p, "sign_sum": self.sign_sum + float(pending[0]),
                "sign_count": self.sign_count + int(pending[1]), "steps": self.steps, "last_rt": self.last_rt}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self._pending = []
        self.sign_sum, self.sign_count = float(state["sign_sum"]), int(state["sign_count"])
        self.steps = int(state["steps"])
        self.last_rt = None if state.get("last_rt") is None else float(state["last_rt"])


__all__ = ["AdaptiveAugment"]
