"""``Trainer``: the method-agnostic state of a run (device, data streams, the method and its
networks, EMA, AMP, the step) and one iteration of it (``train_step``); the loop drives it."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from gancli.config import TrainConfig
from gancli.data import traits_of
from gancli.device import resolve_device
from gancli.errors import GancliError
from gancli.layers.sync_bn import convert_cross_replica
from gancli.methods import METHODS, Method, TrainContext
from gancli.metrics.diversity import SpreadProbe
from gancli.training.data_stream import BatchStream
from gancli.training.distributed import setup_distributed
from gancli.training.ema import EMA
from gancli.training.rundir import dataset_changes, dataset_info
from gancli.training.setup import domains, prepare
from gancli.training.state import restore_state, training_state
from gancli.viz.grid import display_scale, save_grid


def lr_scale(step: int, steps: int, decay: float) -> float:
    """Learning-rate factor for the iteration that starts at ``step`` (0-based): 1, then a linear
    ramp over the last ``decay`` fraction of ``steps`` that would reach 0 at ``steps`` (as in the
    SNGAN / projection-discriminator code, which decays over the whole run: decay 1)."""
    start = int(round(steps * (1.0 - decay)))
    if step < start or steps <= start:
        return 1.0
    return (steps - step) / (steps - start)


class Trainer:
    """The method-agnostic state of a run: device, data stream, the method, EMA, AMP scaler, step."""

    def __init__(self, cfg: TrainConfig, show_progress: bool = True, resume_state: dict | None = None,
                 prepared: tuple | None = None):
        self.cfg = cfg
        self.show_progress = show_progress
        self.device = resolve_device(cfg.device)
        self.dist = setup_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)

        self.dataset, self.model_cfg = prepared if prepared is not None else prepare(cfg)
        self.conditional = self.model_cfg.label_kind != "none"
        ds = self.dataset
        self.amp_dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise GancliError("--amp fp16 needs a CUDA device (it uses a GradScaler); use --amp bf16 on CPU")
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None
        # one stream per domain, each with its own epoch order (B's seed offset: unpaired draws)
        self.streams = {domain: BatchStream(data, cfg.batch_size, cfg.seed + 7777 * i, self.dist.rank, self.dist.world,
                                            domain=domain)
                        for i, (domain, data) in enumerate(domains(ds).items())}
        self.dataset_info = dataset_info(ds)  # fixed for the run; saved in every checkpoint
        self.labels_all = ds.labels.to(self.device) if self.conditional else None
        self.step = 0
        self.data_changes: list[str] = []
        if resume_state is not None:
            self.data_changes = dataset_changes(resume_state.get("dataset") or {}, self.dataset_info)
            if self.data_changes and not cfg.allow_data_change:
                raise GancliError(f"the dataset changed since the checkpoint ({'; '.join(self.data_changes)}), so "
                                  "the resumed run would not see the batches it would have seen; restore the data, "
                                  "or pass --allow-data-change to go on (no longer an exact resume)")

        torch.manual_seed(cfg.seed * 1000 + self.dist.rank)
        ctx = TrainContext(cfg=cfg, model_cfg=self.model_cfg, device=self.device, distributed=self.dist.enabled,
                           next_batch=self._next_batch, fake_labels=self._fake_labels, place=self._place,
                           amp_dtype=self.amp_dtype, scaler=self.scaler)
        self.method: Method = METHODS.get(cfg.method)(ctx)
        # every param group's learning rate as built from the config: --lr-decay scales these
        self.base_lrs = {name: [group["lr"] for group in opt.param_groups]
                         for name, opt in self.method.optimizers.items()}
        self.emas = ({name: EMA(self.method.nets[name], cfg.ema_decay, cfg.ema_start) for name in self.method.ema_networks}
                     if cfg.ema else {})
        if self.dist.enabled and cfg.sync_bn:
            for net in self.method.nets.values():
                convert_cross_replica(net)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.method.wrap(lambda net: DDP(net, device_ids=ids))
        if cfg.compile:
            self.method.wrap(torch.compile)
        if resume_state is not None:
            try:
                restore_state(self, resume_state)
            except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
                raise GancliError(f"the checkpoint's training state does not fit this run "
                                  f"({type(err).__name__}: {str(err).strip().splitlines()[0][:200]})") from None

    def _place(self, net: torch.nn.Module) -> torch.nn.Module:
        # channels-last lets oneDNN / cuDNN skip layout reorders around every conv (1.4x on a
        # 64-channel 3x3 conv, forward + backward, on a 2-core CPU)
        return net.to(self.device, memory_format=torch.channels_last)

    def _next_batch(self, domain: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        real, y = self.streams[domain].next()
        real = real.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return real, (y.to(self.device) if self.conditional else None)

    def _fake_labels(self, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        return self.labels_all[torch.randint(len(self.labels_all), (n,), device=self.device)]

    @property
    def generator(self) -> torch.nn.Module:
        """The network grids and evaluations use: the generator's EMA, or the generator itself."""
        name = self.method.generator
        return self.emas[name].model if name in self.emas else self.method.nets[name]

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        """The training state a checkpoint holds (``gancli.training.state``)."""
        return training_state(self)

    # ------------------------------------------------------------------ one iteration
    def train_step(self) -> dict[str, torch.Tensor]:
        """One iteration of the method (learning rates scheduled, EMA updated); its statistics."""
        cfg = self.cfg
        if cfg.lr_decay:
            scale = lr_scale(self.step, cfg.steps, cfg.lr_decay)
            for name, opt in self.method.optimizers.items():
                for group, base in zip(opt.param_groups, self.base_lrs[name]):
                    group["lr"] = base * scale
        stats = self.method.train_step()
        for name, ema in self.emas.items():
            ema.update(self.method.nets[name], self.step)
        self.step += 1
        return stats

    # ------------------------------------------------------------------ sampling
    @property
    def shown_networks(self) -> dict[str, torch.nn.Module]:
        """Every network by name as grids and evaluations use it: the EMA where averaged."""
        return {name: self.emas[name].model if name in self.emas else net for name, net in self.method.nets.items()}

    @torch.no_grad()
    def _in_eval_mode(self, fn):
        nets = self.shown_networks
        modes = {name: net.training for name, net in nets.items()}
        for net in nets.values():
            net.eval()
        try:
            return fn(nets)
        finally:
            for name, net in nets.items():
                net.train(modes[name])

    def sample_grid(self, layout, path: Path) -> Path:
        images, nrow = self._in_eval_mode(lambda nets: self.method.grid_images(nets, layout))
        return save_grid(images, path, nrow, scale=display_scale(self.model_cfg.res))

    def watch(self, layout) -> tuple[dict[str, float], str | None]:
        """The method's statistics of its grid (and alarm); on the built-in shapes data also
        ``spread``, the factor spreads of G's grid over the real grid's (SpreadProbe)."""
        self.method.watched_grid = None
        stats, alarm = self._in_eval_mode(lambda nets: self.method.watch(nets, layout, self.step))
        probe = self._spread_probe(layout)
        if probe is not None:
            images = self.method.watched_grid
            if images is None:
                images, _ = self._in_eval_mode(lambda nets: self.method.grid_images(nets, layout))
            stats = {**stats, "spread": probe(images)}
        self.method.watched_grid = None  # not kept between log steps
        return stats, alarm

    def _spread_probe(self, layout):
        if not hasattr(self, "_probe"):
            real = getattr(layout, "real", None)
            shapes = traits_of(self.dataset_info.get("name")).shapes_scenes and self.model_cfg.channels == 3
            self._probe = None
            if shapes and real is not None and len(real) > 1:
                self._probe = SpreadProbe(real, self.device)
        return self._probe
