"""What a training method is: the networks it trains, its optimizers, one iteration, its own state.

The training loop (``gancli.training.loop``) owns everything that does not depend on the method:
the data stream, the RNG, logging, progress, sample grids, checkpoints, evaluation, Ctrl-C, the
NaN stop, DDP wrapping and the EMA of the networks the method names. A method owns one iteration:

    method = METHODS.get(cfg.method)(ctx)        # builds its networks and optimizers
    method.wrap(ddp_or_compile)                   # the loop wraps the networks for training
    stats = method.train_step()                   # {name: 0-d tensor}, e.g. d_loss, g_loss, ...
    method.state_dict() / load_state_dict(...)    # its own state between iterations (k_t, pools)

Networks are named (``"G"``, ``"D"``; CycleGAN's would be ``"G_AB"``, ``"D_A"``, ...): the
checkpoint stores them by name, ``generator`` is the one ``sample``/``eval``/``attn-map`` use, and
``ema_networks`` are averaged by the loop. docs/architecture.md ("Adding a method") walks through
a new one.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from gancli.config import ModelConfig, TrainConfig
from gancli.methods.grids import fixed_layout, real_images
from gancli.models import build_network, draw_z
from gancli.registry import Registry


@dataclass
class TrainContext:
    """What the loop hands a method: the configs, the device and the loop's services."""

    cfg: TrainConfig
    model_cfg: ModelConfig  # resolved: the data has set channels and labels
    device: torch.device
    distributed: bool  # under DDP every parameter must take part in each backward
    # real images and labels, on the device; two-domain methods name the domain: next_batch("A")
    next_batch: Callable[..., tuple[torch.Tensor, torch.Tensor | None]]
    fake_labels: Callable[[int], torch.Tensor | None]  # n labels drawn as the data has them (None: unconditional)
    place: Callable[[nn.Module], nn.Module]  # moves a network to the device in the loop's memory format
    amp_dtype: torch.dtype | None = None
    scaler: Any = None  # torch.amp.GradScaler under --amp fp16

    @property
    def conditional(self) -> bool:
        return self.model_cfg.label_kind != "none"

    def draw_z(self, n: int) -> torch.Tensor:
        """n latents from the model's prior, on the device: (n, z_dim)."""
        return draw_z(n, self.model_cfg, device=self.device)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def accumulate(self, loss: torch.Tensor) -> None:
        """loss.backward(), through the GradScaler under fp16."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def optimizer_step(self, opt: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        """zero_grad, backward, step."""
        opt.zero_grad(set_to_none=True)
        self.accumulate(loss)
        self.optimizer_step(opt)


class Method:
    """Base class of training methods; subclasses register with ``@METHODS.register(name)``."""

    name: ClassVar[str] = ""
    generator: ClassVar[str] = "G"  # the network that makes images from (z, y)
    ema_networks: ClassVar[tuple[str, ...]] = ("G",)  # averaged by the loop (when --ema)
    #: short labels of the statistics for the progress line, in the order shown
    stat_labels: ClassVar[dict[str, str]] = {}
    #: number formats of statistics on the progress line (default ".3f")
    stat_formats: ClassVar[dict[str, str]] = {}
    #: ``gancli plot`` panels: title -> statistics drawn together (others get a panel each)
    panels: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: TrainConfig options of this method that may change when a run is resumed
    resumable_options: ClassVar[frozenset[str]] = frozenset()
    #: the method trains without labels (an automatic --cond then leaves the data's labels out)
    unconditional: ClassVar[bool] = False
    #: the method trains on two-domain data (``gancli.data.TwoDomainDataset``: ``next_batch("A")``,
    #: ``next_batch("B")``) instead of one dataset
    two_domain: ClassVar[bool] = False

    @classmethod
    def check_config(cls, cfg: TrainConfig) -> None:
        """Raises GancliError for options this method cannot train with (names and combinations)."""

    @property
    def options(self):
        """This method's own options (``gancli.config.owned``: ``@owned_by(name)``), or None."""
        return self.ctx.cfg.owned.get(self.name)

    # ---------------------------------------------------------------- networks (no training state)
    @classmethod
    def network_names(cls, model_cfg: ModelConfig) -> tuple[str, ...]:
        """The networks this method trains, in the order they are built (default: one G/D pair)."""
        return ("G", "D")

    @classmethod
    def build_network(cls, model_cfg: ModelConfig, name: str) -> nn.Module:
        """One network of this method, initialised (the checkpoint's weights are loaded by the
        caller); default: the model's G or D (``gancli.models.build_network``)."""
        return build_network(model_cfg, name)

    # ---------------------------------------------------------------- training
    def __init__(self, ctx: TrainContext):
        self.ctx = ctx
        # built in network_names order: the initial weights draw from the global RNG in that order
        self.nets: dict[str, nn.Module] = {name: ctx.place(self.build_network(ctx.model_cfg, name))
                                           for name in self.network_names(ctx.model_cfg)}
        self.train_nets: dict[str, nn.Module] = dict(self.nets)  # what forwards go through (DDP, compiled)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}  # by name; "lr_<name>" in metrics.jsonl

    def wrap(self, wrapper: Callable[[nn.Module], nn.Module]) -> None:
        self.train_nets = {name: wrapper(net) for name, net in self.train_nets.items()}

    def train_step(self) -> dict[str, torch.Tensor]:
        """One iteration; returns its statistics as 0-d tensors on the device (not synchronised)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The method's own state besides networks and optimizers (tensors and plain values)."""
        return {}

    # ---------------------------------------------------------------- what the loop shows
    def grid_layout(self, dataset, seed: int) -> Any:
        """The fixed inputs of the progress grids, drawn once per run (default: latents and labels
        of :func:`gancli.methods.grids.fixed_layout`)."""
        return fixed_layout(dataset, self.ctx.model_cfg, seed, self.ctx.conditional)

    def grid_images(self, nets: dict[str, nn.Module], layout: Any) -> tuple[torch.Tensor, int]:
        """The progress grid from ``nets`` (name -> network in eval mode, the EMA where averaged):
        (images (N, C, H, W) in [-1, 1], images per row). Default: the generator on the layout's z, y."""
        net = nets[self.generator]
        z = layout.z.to(self.ctx.device)
        y = layout.y.to(self.ctx.device) if layout.y is not None else None
        images = torch.cat([net(z[i: i + 64], None if y is None else y[i: i + 64]) for i in range(0, len(z), 64)])
        return images, layout.nrow

    def real_grid(self, dataset, layout: Any, seed: int) -> torch.Tensor | None:
        """Real images laid out as the progress grid (``samples/real.png``); None: none to show."""
        return real_images(dataset, layout, seed, self.ctx.conditional)

    #: the grid images (as :meth:`grid_images` makes them) the last :meth:`watch` drew, or None: the
    #: trainer's own probes of the grid read them instead of drawing them again
    watched_grid: torch.Tensor | None = None

    def watch(self, nets: dict[str, nn.Module], layout: Any, step: int) -> tuple[dict[str, float], str | None]:
        """Called at every log step (nets as in :meth:`grid_images`): extra statistics for the
        metrics record, and an alarm (one line) when something has gone wrong, or None."""
        return {}, None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"method {self.name} keeps no state, got {sorted(state)}")


METHODS: Registry[type[Method]] = Registry("method")
