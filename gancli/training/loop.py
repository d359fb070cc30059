"""The training loop behind ``gancli train``: ``train(TrainConfig(...)) -> TrainResult``.

Method-agnostic: what one iteration does is the training method's (``gancli.methods``, chosen by
``--method``); the loop owns the data stream, the RNG, EMA, DDP wrapping, logging, progress, sample
grids, checkpoints, evaluation, Ctrl-C and the NaN stop. The run directory holds config.json,
metrics.jsonl, samples/ and checkpoints/ (docs/training.md).
"""
from __future__ import annotations

import dataclasses
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gancli import __version__
from gancli.checkpoint import load_checkpoint, resolve_checkpoint, run_folder_of, run_path_for_name
from gancli.config import TrainConfig
from gancli.data import PAIR_DATASETS, TwoDomainDataset, build_dataset, build_pair_dataset
from gancli.device import resolve_device
from gancli.errors import GancliError
from gancli.loggers.base import LoggerError, RunLoggers, check_loggers, open_loggers
from gancli.methods import METHODS, Method, TrainContext
from gancli.models import resolve_model
from gancli.training.data_stream import BatchStream
from gancli.training.distributed import DistInfo, broadcast_object, cleanup_distributed, setup_distributed
from gancli.training.ema import EMA
from gancli.training.rundir import RunDir, dataset_changes, dataset_info

from gancli.viz.grid import save_gif, save_grid


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last_grid: Path | None
    last_checkpoint: Path | None
    wall_time: float
    interrupted: bool = False
    last_eval: dict | None = None  # the last --eval-every record
    steps_done: int = 0  # steps this process trained (the run may have resumed at a later step)
    signal: int | None = None  # the signal that stopped the run (SIGINT, SIGTERM, SIGHUP)
    metrics_dropped: int = 0  # metrics.jsonl records past the resumed checkpoint, dropped
    skipped: str = ""  # the dataset's files left out and why ("" when none)
    is_main: bool = True  # False on the other ranks of a torchrun run (rank 0 reports)


def lr_scale(step: int, steps: int, decay: float) -> float:
    """Learning-rate factor for the iteration that starts at ``step`` (0-based): 1, then a linear
    ramp over the last ``decay`` fraction of ``steps`` that would reach 0 at ``steps`` (as in the
    SNGAN / projection-discriminator code, which decays over the whole run: decay 1)."""
    start = int(round(steps * (1.0 - decay)))
    if step < start or steps <= start:
        return 1.0
    return (steps - step) / (steps - start)


def check_names(cfg: TrainConfig) -> None:
    """The names in ``cfg`` against their registries (model, loss, method, feature extractor)."""
    from gancli.metrics.extractors import extractor_spec
    from gancli.metrics.registry import METRICS, check_metrics
    from gancli.models import MODELS

    METHODS.get(cfg.method).check_config(cfg)
    MODELS.get(cfg.model.name)
    for name in cfg.eval_metrics:
        METRICS.get(name)
    if cfg.eval_every:
        check_metrics(cfg.eval_metrics, cfg.eval_n, flag="--eval-n")
    if cfg.feature_extractor is not None:
        extractor_spec(cfg.feature_extractor)
    check_loggers(cfg.logger)
    if cfg.name is not None:
        run_path_for_name(cfg.name)


class _Signals:
    """Signals become requests the loop honours at the next step boundary (so a saved state is
    always consistent): SIGINT (Ctrl-C), SIGTERM (schedulers, ``kill``) and SIGHUP (a closed
    terminal) save and stop, SIGUSR1 saves and goes on. A second stop signal gives up at once."""

    STOP = ("SIGINT", "SIGTERM", "SIGHUP")
    SAVE = ("SIGUSR1",)

    def __init__(self):
        self.stop_signal: int | None = None
        self.save_requested = False
        self._previous: dict[int, object] = {}
        self._agreed: tuple[bool, bool] | None = None  # under torchrun: what all ranks agreed this step

    def stop_now(self) -> bool:
        """Stop at this step: this process's request, or under torchrun every rank's agreed one."""
        return self.requested if self._agreed is None else self._agreed[0]

    def save_now(self) -> bool:
        return self.save_requested if self._agreed is None else self._agreed[1]

    @property
    def requested(self) -> bool:
        return self.stop_signal is not None

    def __enter__(self):
        for name in self.STOP + self.SAVE:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handle(self, signum, frame):
        if signal.Signals(signum).name in self.SAVE:
            self.save_requested = True
            return
        if self.stop_signal is not None:  # a second stop signal: give up at once
            raise KeyboardInterrupt
        self.stop_signal = signum

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False

    def agree(self, info: DistInfo) -> None:
        """Under torchrun: a stop or save asked of any rank is asked of all, at the same step (one
        tiny all-reduce per step), so every rank saves the same consistent state."""
        if not info.enabled:
            return
        import torch.distributed as torch_dist

        flags = torch.tensor([self.stop_signal or 0, int(self.save_requested)], dtype=torch.int64)
        torch_dist.all_reduce(flags, op=torch_dist.ReduceOp.MAX)
        if flags[0] and self.stop_signal is None:
            self.stop_signal = int(flags[0])
        self._agreed = (bool(flags[0]), bool(flags[1]))


def _save_state(trainer: Trainer, run: RunDir, last_ckpt: Path | None) -> Path | None:
    """Checks the training state for NaN / Inf (never saved as "the last good one") and saves it;
    the newest checkpoint's path."""
    state = trainer.state()
    bad = non_finite_tensors(state)
    if bad:
        where = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written yet"
        raise GancliError(f"the weights became NaN or Inf by step {trainer.step} ({', '.join(bad[:3])}"
                          f"{', ...' if len(bad) > 3 else ''}); not saved, training stopped ({where})")
    return run.save_checkpoint(state, trainer.step) or last_ckpt


def non_finite_tensors(state: dict) -> list[str]:
    """Names of the tensors of a training state (networks, EMA, optimizer moments) that hold NaN
    or Inf; checked before every save so a broken model is never saved as "the last good one"."""
    bad = []

    def visit(value, name):
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                visit(item, f"{name}[{i}]")

    for part in ("networks", "ema", "optimizers", "method_state"):
        visit(state.get(part), part)
    return bad


def prepare(cfg: TrainConfig):
    """The dataset and the fully resolved model config that ``cfg`` asks for (the dataset says the
    resolution, channels, classes and attributes). ``cond=None`` means conditional whenever the data
    has class labels (CelebA's attributes only with an explicit ``--cond``; never for a method that
    trains without labels, such as BEGAN). Two-domain data (``pair``, ``shapes-pair``) goes with a
    two-domain method (CycleGAN) and nothing else."""
    method = METHODS.get(cfg.method)
    if (cfg.dataset in PAIR_DATASETS) != method.two_domain:
        if method.two_domain:
            raise GancliError(f"--method {cfg.method} translates between two domains; train it on two-domain data: "
                              f"{', '.join(PAIR_DATASETS.names())} (e.g. gancli train pair DIR), not {cfg.dataset}")
        raise GancliError(f"{cfg.dataset} is two-domain data, for translation: train it with --method cyclegan "
                          f"(what --preset auto picks for it), not --method {cfg.method}")
    if cfg.narrow_b and cfg.dataset != "shapes-pair":
        raise GancliError("--narrow-b narrows the built-in shapes-pair's domain B; it does not apply to "
                          f"{cfg.dataset}")
    if method.two_domain:
        dataset = build_pair_dataset(cfg.dataset, root=cfg.data_root, res=cfg.model.res, split=cfg.split,
                                     seed=cfg.dataset_seed, size=cfg.data_size, narrow_b=cfg.narrow_b)
        dataset.split_of("test")  # the grids and evaluations read the test split: missing files fail now
    else:
        cond = cfg.cond if cfg.cond is not None else (cfg.dataset != "celeba" and not method.unconditional)
        kwargs = dict(root=cfg.data_root, res=cfg.model.res, attrs=cfg.attrs, split=cfg.split, download=cfg.download,
                      seed=cfg.dataset_seed, size=cfg.data_size)
        try:
            dataset = build_dataset(cfg.dataset, cond=cond, **kwargs)
        except GancliError:
            if cfg.cond is not None or not cond:
                raise
            dataset = build_dataset(cfg.dataset, cond=False, **kwargs)  # e.g. a flat folder
    label_kind = getattr(dataset, "label_kind", "none")
    model_cfg = resolve_model(dataclasses.replace(
        cfg.model, channels=dataset.channels,
        n_classes=dataset.n_classes if label_kind == "class" else 0,
        n_attrs=len(dataset.attr_names) if label_kind == "attrs" else 0,
    ))
    return dataset, model_cfg


def domains(dataset) -> dict[str | None, object]:
    """The datasets a run draws batches from: {"A": ..., "B": ...} for two-domain data, else {None: dataset}."""
    if isinstance(dataset, TwoDomainDataset):
        return {"A": dataset.a, "B": dataset.b}
    return {None: dataset}


class Trainer:
    """The method-agnostic state of a run: device, data stream, the method, EMA, AMP scaler, step."""

    def __init__(self, cfg: TrainConfig, show_progress: bool = True, resume_state: dict | None = None):
        self.cfg = cfg
        self.show_progress = show_progress
        self.device = resolve_device(cfg.device)
        self.dist = setup_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)

        self.dataset, self.model_cfg = prepare(cfg)
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
            from gancli.layers.sync_bn import convert_cross_replica

            for net in self.method.nets.values():
                convert_cross_replica(net)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.method.wrap(lambda net: DDP(net, device_ids=ids))
        if cfg.compile:
            self.method.wrap(torch.compile)
        if resume_state is not None:
            try:
                self._load_state(resume_state)
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
        return {
            "gancli_version": __version__,
            "method": self.method.name,
            "method_state": self.method.state_dict(),
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "dataset": self.dataset_info,
            "step": self.step,
            "networks": {name: net.state_dict() for name, net in self.method.nets.items()},
            "ema": {name: ema.model.state_dict() for name, ema in self.emas.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.method.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": self._rng_state(),
            "rng_ranks": self._rng_of_ranks(),
            "world": self.dist.world,
            "data_position": (self.streams[None].state() if None in self.streams
                              else {domain: stream.state() for domain, stream in self.streams.items()}),
        }

    @staticmethod
    def _rng_state() -> dict:
        return {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}

    def _rng_of_ranks(self) -> list[dict] | None:
        """Every rank's random state, gathered to each (a collective: every rank saves together)."""
        if not self.dist.enabled:
            return None
        import torch.distributed as torch_dist

        gathered: list = [None] * self.dist.world
        torch_dist.all_gather_object(gathered, self._rng_state())
        return gathered

    def _load_state(self, state: dict) -> None:
        world = state.get("world")
        if isinstance(world, int) and world != self.dist.world:
            # each process draws a batch of --batch-size: another process count changes the global
            # batch, each rank's share of the data and its stream of z
            raise GancliError(f"the checkpoint was trained on {world} process{'es' if world > 1 else ''} (a global "
                              f"batch of {world} x {self.cfg.batch_size}); this run has {self.dist.world}: resume "
                              f"it on {world} (torchrun --nproc-per-node {world} ...), or start a new run from it")
        if state.get("method", "gan") != self.method.name:
            raise GancliError(f"the checkpoint was trained with --method {state.get('method')}, not {self.method.name}")
        for name, net in self.method.nets.items():
            net.load_state_dict(state["networks"][name])
        for name, ema in self.emas.items():
            if name not in (state.get("ema") or {}):
                raise GancliError("the checkpoint has no EMA weights; resume with --no-ema")
            ema.model.load_state_dict(state["ema"][name])
        for name, opt in self.method.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.method.load_state_dict(state.get("method_state") or {})
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        for domain, stream in self.streams.items():
            stream.load_state(state["data_position"] if domain is None else state["data_position"][domain])
        ranks = state.get("rng_ranks")
        rng = state["rng"] if not self.dist.enabled else (ranks[self.dist.rank] if ranks else None)
        if rng is not None:  # every rank continues its own stream of z: an exact resume
            torch.set_rng_state(rng["torch"])
            if torch.cuda.is_available() and rng["cuda"]:
                torch.cuda.set_rng_state_all(rng["cuda"])
        else:  # a torchrun checkpoint from before 0.2.0 kept rank 0's state alone: reseeded from the step
            torch.manual_seed(self.cfg.seed * 1000 + self.dist.rank + 7919 * self.step)

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
        return save_grid(images, path, nrow, scale=2 if self.model_cfg.res <= 32 else 1)

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
            shapes = self.dataset_info.get("name") == "shapes" and self.model_cfg.channels == 3
            self._probe = None
            if shapes and real is not None and len(real) > 1:
                from gancli.metrics.diversity import SpreadProbe

                self._probe = SpreadProbe(real, self.device)
        return self._probe


#: what a collective raises when another rank of the run is gone (gloo, NCCL)
PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL", "gloo",
             "ProcessGroup", "Socket Timeout", "timed out")


def _step_with_peers(trainer: Trainer, last_ckpt: Path | None) -> dict[str, torch.Tensor]:
    """One iteration; under torchrun, another rank that dies mid-step is one line, not a backend
    traceback (this rank's state is then mid-step and is not saved: the run resumes from its last
    checkpoint, as after a kill -9 of a single process)."""
    if not trainer.dist.enabled:
        return trainer.train_step()
    try:
        return trainer.train_step()
    except RuntimeError as err:
        text = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        if not any(marker in str(err) for marker in PEER_LOST):
            raise
        where = f"resume from {last_ckpt}" if last_ckpt else "no checkpoint was written yet"
        raise GancliError(f"another process of this torchrun run stopped during step {trainer.step + 1} ({text}); "
                          f"training stopped on rank {trainer.dist.rank} ({where} with the same torchrun "
                          "command and --resume)") from None


def _check_finite(pending: list[tuple[int, tuple[str, ...], torch.Tensor]], run: RunDir | None
                  ) -> tuple[list[str], torch.Tensor] | None:
    """Stacks the pending per-step statistics -> (names, one row per step and one column per name);
    raises at the first step where any of them is NaN or Inf. A statistic a step did not report
    (ADA's r_t before its first adjustment) is NaN in that row and left out of the check and of
    the mean (``torch.nanmean``)."""
    if not pending:
        return None
    names = list(dict.fromkeys(name for _, row_names, _ in pending for name in row_names))
    if all(list(row_names) == names for _, row_names, _ in pending):  # the usual case: one sync
        stats = torch.stack([values for _, _, values in pending]).float().cpu()
        present = torch.ones_like(stats, dtype=torch.bool)
    else:
        stats = torch.full((len(pending), len(names)), float("nan"))
        present = torch.zeros_like(stats, dtype=torch.bool)
        for i, (_, row_names, values) in enumerate(pending):
            columns = [names.index(n) for n in row_names]
            stats[i, columns] = values.float().cpu()
            present[i, columns] = True
    bad = (present & ~torch.isfinite(stats)).nonzero()
    if len(bad):
        row, col = (int(i) for i in bad[0])
        last = run.last_checkpoint() if run else None
        where = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        what = "the loss" if names[col].endswith("loss") else names[col]
        raise GancliError(f"{what} became NaN or Inf at step {pending[row][0]}; training stopped ({where})")
    return names, stats


def train(cfg: TrainConfig, show_progress: bool = True, resume_state: dict | None = None,
          resume_dir: Path | None = None) -> TrainResult:
    """Trains as ``cfg`` says; resumes from ``resume_state`` (a loaded checkpoint) into ``resume_dir``."""
    cfg.validate()
    check_names(cfg)
    started = time.time()
    trainer = Trainer(cfg, show_progress=show_progress, resume_state=resume_state)
    dist: DistInfo = trainer.dist
    run = None
    loggers = RunLoggers([])
    finished = False
    try:
        run_path = resume_dir if resume_dir is not None else RunDir.default_path(cfg)
        run_path = broadcast_object(str(run_path), dist)
        run = RunDir(Path(run_path), keep=cfg.keep, active=dist.is_main)
        # rank 0 alone sets up evaluation, locks, checks and creates the directory; every rank
        # learns the outcome, so an error stops all of them instead of leaving the others waiting
        error = evaluator = None
        dropped = 0
        if dist.is_main:
            try:
                if cfg.eval_every:
                    from gancli.training.evaluation import TrainEvaluator

                    evaluator = TrainEvaluator(trainer)  # before the run directory: nothing written on failure
                if resume_state is not None:
                    run.check_writable()  # before the lock file is made in a read-only run
                run.lock()
                if resume_state is None:
                    run.create(cfg, trainer.model_cfg, trainer.dataset_info)
                else:
                    dropped = run.truncate_metrics(trainer.step)
            except GancliError as err:
                error = str(err)
        error = broadcast_object(error, dist)
        if error:
            raise GancliError(error)
        layout = trainer.method.grid_layout(trainer.dataset, cfg.seed)
        if dist.is_main:
            loggers = open_loggers(cfg.logger, run.path, {"train": cfg.to_dict(), "model": trainer.model_cfg.to_dict()},
                                   start_step=trainer.step)
        if dist.is_main and not run.real_grid.exists():
            real = trainer.method.real_grid(trainer.dataset, layout, cfg.seed)
            if real is not None:
                with run.writing(run.real_grid):
                    save_grid(real, run.real_grid, layout.nrow, scale=2 if trainer.model_cfg.res <= 32 else 1)
                loggers.image("samples/real", run.real_grid, 0)
        result = _loop(trainer, run, layout, started, evaluator, loggers)
        result.metrics_dropped = dropped
        result.skipped = trainer.dataset.skip_report.summary()
        finished = True
    finally:
        try:
            loggers.close()
        except LoggerError as err:
            if finished:  # an error on the way out keeps its own message
                raise GancliError(f"{err} while closing; the run itself is saved") from None
        finally:
            if run is not None:
                run.unlock()
        cleanup_distributed(dist)
    return result


def _loop(trainer: Trainer, run: RunDir, layout, started: float, evaluator=None,
          loggers: RunLoggers | None = None) -> TrainResult:
    """The training steps; a logger that cannot write saves the run and stops it with one line."""
    dist = trainer.dist
    loggers = loggers or RunLoggers([])
    try:
        return _steps(trainer, run, layout, started, evaluator, loggers)
    except LoggerError as err:  # the networks are consistent at this step: save them, then stop
        # (under torchrun the other ranks are in a collective this rank will not join: no save)
        saved = _save_state(trainer, run, run.last_checkpoint()) if not dist.enabled else None
        raise GancliError(f"{err}; training stopped (saved step {trainer.step} to {saved})" if saved else
                          f"{err}; training stopped") from None


def _steps(trainer: Trainer, run: RunDir, layout, started: float, evaluator, loggers: RunLoggers) -> TrainResult:
    cfg, dist = trainer.cfg, trainer.dist
    from gancli.training.progress import TrainProgress, start_banner

    last_grid = last_eval = None
    last_ckpt = run.last_checkpoint()
    pending: list[tuple[int, tuple[str, ...], torch.Tensor]] = []
    interval_start, interval_steps = time.time(), 0
    interrupted = False
    first_step = saved_step = trainer.step
    imgs_per_step = cfg.batch_size * dist.world
    progress = TrainProgress(cfg.steps, trainer.step, trainer.method.stat_labels, trainer.method.stat_formats,
                             enabled=trainer.show_progress and dist.is_main)
    if progress.enabled:
        progress.banner(start_banner(trainer, run.path))
    with _Signals() as stop, progress:
        if evaluator is not None and first_step > 0 and dist.is_main and missing_eval(cfg, first_step, run.path):
            last_eval = evaluator(first_step)  # cut off last time: the figure of this step is redone
            run.log_metrics(last_eval)
            loggers.metrics(last_eval)
            progress.show_eval(last_eval)
        while trainer.step < cfg.steps:
            stats = _step_with_peers(trainer, last_ckpt)
            stop.agree(dist)
            pending.append((trainer.step, tuple(stats), torch.stack(list(stats.values()))))
            interval_steps += 1
            step = trainer.step
            progress.advance(step)
            is_last = step >= cfg.steps
            want_log = step % cfg.log_every == 0 or is_last
            if progress.enabled and step == first_step + 1 and not want_log:
                # the first losses at once, not only after --log-every steps (one sync, not logged)
                progress.show_first(step, dict(zip(pending[-1][1], pending[-1][2].tolist())))
            want_sample = step % cfg.sample_every == 0 or is_last
            want_ckpt = step % cfg.ckpt_every == 0 or is_last or stop.stop_now() or stop.save_now()
            stop.save_requested = False
            if want_log or want_sample or want_ckpt:
                table = _check_finite(pending, run)
                pending.clear()
                if want_log and table is not None:
                    names, values = table
                    elapsed = time.time() - interval_start
                    mean = values.nanmean(0).tolist()
                    record = {"step": step, **dict(zip(names, mean)),
                              **{f"lr_{name}": opt.param_groups[0]["lr"]
                                 for name, opt in trainer.method.optimizers.items()},
                              "img_s": interval_steps * imgs_per_step / max(elapsed, 1e-9),
                              "time": round(time.time() - started, 2)}
                    watched, alarm = trainer.watch(layout)
                    record.update(watched)
                    if alarm:
                        record["alarm"] = alarm
                    run.log_metrics(record)
                    loggers.metrics(record)
                    progress.show_stats(record)
                    interval_start, interval_steps = time.time(), 0
                if want_sample and dist.is_main:
                    with run.writing(run.sample_path(step)):
                        last_grid = trainer.sample_grid(layout, run.sample_path(step))
                    loggers.image("samples", last_grid, step)
                if want_ckpt:
                    last_ckpt = _save_state(trainer, run, last_ckpt)
                    saved_step = step
            if evaluator is not None and (step % cfg.eval_every == 0 or is_last) and not stop.stop_now():
                eval_started = time.time()
                last_eval = evaluator(step)
                run.log_metrics(last_eval)
                loggers.metrics(last_eval)
                progress.show_eval(last_eval)
                interval_start += time.time() - eval_started  # img/s counts training time only
            if stop.stop_now():
                if saved_step != step:  # the signal came after this step's save decision (while logging, sampling, evaluating)
                    last_ckpt = _save_state(trainer, run, last_ckpt)
                interrupted = True
                break
    if dist.is_main and not interrupted:
        frames = run.sample_frames()
        if len(frames) > 1:
            with run.writing(run.progress_gif):
                save_gif(frames, run.progress_gif)
    return TrainResult(run.path, trainer.step, last_grid, last_ckpt, time.time() - started, interrupted, last_eval,
                       steps_done=trainer.step - first_step, signal=stop.stop_signal, is_main=dist.is_main)


def load_resume(resume: str) -> tuple[dict, Path]:
    """Loads the checkpoint named by ``--resume`` (a .pt file or a run directory) -> (state, run dir)."""
    try:
        path, _ = resolve_checkpoint(resume)
    except GancliError as err:
        raise GancliError(f"--resume {resume}: {err}") from None
    return load_checkpoint(path), run_folder_of(path)


#: options that may differ from the checkpoint's when resuming (besides the method's own)
RESUMABLE_OVERRIDES = {"logger", "steps", "device", "sync_bn", "log_every", "sample_every", "ckpt_every", "keep", "compile", "resume",
                       "data_root", "download", "eval_every", "eval_n", "eval_metrics", "feature_extractor",
                       "inception_weights", "allow_data_change"}


def eval_due(cfg: TrainConfig, step: int) -> bool:
    """Whether the run evaluates at ``step`` (every ``--eval-every`` steps and at the last)."""
    return bool(cfg.eval_every) and step > 0 and (step % cfg.eval_every == 0 or step >= cfg.steps)


def missing_eval(cfg: TrainConfig, step: int, run_dir: Path | None) -> bool:
    """Whether the evaluation due at checkpoint ``step`` is not in the run's metrics.jsonl: the
    process was cut off while evaluating (the checkpoint is saved first). Resuming redoes it."""
    return run_dir is not None and eval_due(cfg, step) and not RunDir(Path(run_dir)).has_eval(step)


def resume_config(state: dict, explicit: dict, run_dir: Path | None = None) -> TrainConfig:
    """The checkpoint's TrainConfig with the explicitly given options (flat, by flag name) that may
    change on resume; any other option that differs from the checkpoint's is an error. A run that
    has reached its steps resumes only to redo an evaluation it lost (``missing_eval``)."""
    saved = TrainConfig.from_dict(state["train_config"])
    base = saved.options()
    method = METHODS.get(saved.method) if saved.method in METHODS else None
    resumable = RESUMABLE_OVERRIDES | (method.resumable_options if method else frozenset())
    for key, value in explicit.items():
        if key in resumable:
            base[key] = value
        elif value != base.get(key):
            raise GancliError(
                f"--{key.replace('_', '-')} cannot change when resuming (the checkpoint has {base.get(key)!r})"
            )
    cfg = TrainConfig.from_flat(base)
    if cfg.steps <= int(state["step"]) and not (cfg.steps == int(state["step"]) and missing_eval(cfg, cfg.steps, run_dir)):
        raise GancliError(
            f"the checkpoint is already at step {state['step']}; pass --steps larger than that to train on"
        )
    return cfg


__all__ = ["train", "Trainer", "TrainResult", "check_names", "eval_due", "load_resume", "missing_eval", "prepare",
           "resume_config"]
