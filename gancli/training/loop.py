"""The training loop behind ``gancli train``: ``train(TrainConfig(...)) -> TrainResult``.

One iteration = ``n_dis`` D steps then one G step (SAGAN: hinge loss, Adam(0.0, 0.9), lr_D = 4 lr_G).
Real and fake images go through D as one concatenated batch, so SN does one power iteration per D
step. The run directory holds config.json, metrics.jsonl, samples/ and checkpoints/ (docs/training.md).
"""
from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gancli import __version__
from gancli.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from gancli.config import ModelConfig, TrainConfig
from gancli.data import build_dataset
from gancli.errors import GancliError
from gancli.losses import get_loss, gradient_penalty, orthogonal_regularization
from gancli.models import build_models
from gancli.training.data_stream import BatchStream
from gancli.training.distributed import DistInfo, broadcast_object, cleanup_distributed, setup_distributed
from gancli.training.ema import EMA
from gancli.training.rundir import RunDir, dataset_info
from gancli.training.samples import fixed_layout, real_images
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


def lr_scale(step: int, steps: int, decay: float) -> float:
    """Learning-rate factor for the iteration that starts at ``step`` (0-based): 1, then a linear
    ramp over the last ``decay`` fraction of ``steps`` that would reach 0 at ``steps`` (as in the
    SNGAN / projection-discriminator code, which decays over the whole run: decay 1)."""
    start = int(round(steps * (1.0 - decay)))
    if step < start or steps <= start:
        return 1.0
    return (steps - step) / (steps - start)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GancliError("--device cuda was asked for, but no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GancliError("--device mps was asked for, but MPS is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GancliError(f"unknown device '{name}'; choose one of: auto, cpu, cuda, cuda:N, mps") from None


class _StopFlag:
    """Ctrl-C asks the loop to stop at the next step boundary (so the saved state is consistent)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def prepare(cfg: TrainConfig):
    """The dataset and the fully resolved model config that ``cfg`` asks for (the dataset says the
    resolution, channels, classes and attributes). ``cond=None`` means conditional whenever the data
    has class labels (CelebA's attributes only with an explicit ``--cond``)."""
    cond = cfg.cond if cfg.cond is not None else cfg.dataset != "celeba"
    kwargs = dict(root=cfg.data_root, res=cfg.res, attrs=cfg.attrs, split=cfg.split, download=cfg.download,
                  seed=cfg.seed, size=cfg.data_size)
    try:
        dataset = build_dataset(cfg.dataset, cond=cond, **kwargs)
    except GancliError:
        if cfg.cond is not None or not cond:
            raise
        dataset = build_dataset(cfg.dataset, cond=False, **kwargs)  # e.g. a flat folder
    model_cfg = ModelConfig(
        name=cfg.model, res=cfg.res, channels=dataset.channels, ch=cfg.ch, d_ch=cfg.d_ch, z_dim=cfg.z_dim,
        n_classes=dataset.n_classes if dataset.label_kind == "class" else 0,
        n_attrs=len(dataset.attr_names) if dataset.label_kind == "attrs" else 0,
        attn_res=cfg.attn_res,
    ).resolve()
    return dataset, model_cfg


class Trainer:
    def __init__(self, cfg: TrainConfig, show_progress: bool = True, resume_state: dict | None = None):
        self.cfg = cfg
        self.show_progress = show_progress
        self.device = resolve_device(cfg.device)
        self.dist = setup_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.resume_state = resume_state

        self.dataset, self.model_cfg = prepare(cfg)
        self.conditional = self.dataset.label_kind != "none"
        ds = self.dataset

        torch.manual_seed(cfg.seed * 1000 + self.dist.rank)
        self.G, self.D = build_models(self.model_cfg)
        # channels-last lets oneDNN / cuDNN skip layout reorders around every conv (1.4x on a
        # 64-channel 3x3 conv, forward + backward, on a 2-core CPU)
        self.G.to(self.device, memory_format=torch.channels_last)
        self.D.to(self.device, memory_format=torch.channels_last)
        self.ema = EMA(self.G, cfg.ema_decay) if cfg.ema else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(float(cfg.beta1), float(cfg.beta2)))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(float(cfg.beta1), float(cfg.beta2)))
        self.loss = get_loss(cfg.loss)
        self.amp_dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise GancliError("--amp fp16 needs a CUDA device (it uses a GradScaler); use --amp bf16 on CPU")
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None
        self.stream = BatchStream(ds, cfg.batch_size, cfg.seed, self.dist.rank, self.dist.world)
        self.dataset_info = dataset_info(ds)  # fixed for the run; saved in every checkpoint
        self.labels_all = ds.labels.to(self.device) if self.conditional else None
        # D on real and fake in two passes (less memory) or one concatenated pass (faster GEMMs);
        # DDP needs one forward per backward, so it always takes the joint pass
        self.split_d = cfg.split_d and not self.dist.enabled
        self.step = 0

        self.G_train: nn.Module = self.G
        self.D_train: nn.Module = self.D
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G_train = DDP(self.G, device_ids=ids)
            self.D_train = DDP(self.D, device_ids=ids)
        if cfg.compile:
            self.G_train = torch.compile(self.G_train)
            self.D_train = torch.compile(self.D_train)

        if resume_state is not None:
            self._load_state(resume_state)

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        return {
            "gancli_version": __version__,
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "dataset": self.dataset_info,
            "step": self.step,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.ema.model.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            "data_position": self.stream.state(),
        }

    def _load_state(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.ema is not None:
            if state.get("G_ema") is None:
                raise GancliError("the checkpoint has no EMA weights; resume with --no-ema")
            self.ema.model.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.stream.load_state(state["data_position"])
        if not self.dist.enabled:
            torch.set_rng_state(state["rng"]["torch"])
            if torch.cuda.is_available() and state["rng"]["cuda"]:
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        else:  # each rank's stream of z differs; reseed deterministically from the step
            torch.manual_seed(self.cfg.seed * 1000 + self.dist.rank + 7919 * self.step)

    # ------------------------------------------------------------------ one iteration
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _fake_labels(self, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        return self.labels_all[torch.randint(len(self.labels_all), (n,), device=self.device)]

    def _accumulate(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _optimizer_step(self, opt: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()

    def _backward(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        self._accumulate(loss)
        self._optimizer_step(opt)

    def train_step(self) -> torch.Tensor:
        """One iteration; returns [d_loss, g_loss, mean D(real), mean D(fake)] (on the device)."""
        cfg, G, D = self.cfg, self.G_train, self.D_train
        b = cfg.batch_size
        fake_for_g = None
        if cfg.lr_decay:
            scale = lr_scale(self.step, cfg.steps, cfg.lr_decay)
            for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * scale
        for _ in range(cfg.n_dis):
            real, y_real = self.stream.next()
            real = real.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y_real = y_real.to(self.device) if self.conditional else None
            # WGAN-GP interpolates real and fake images: give both the same labels
            y_fake = y_real if (self.loss.gp_weight and self.conditional) else self._fake_labels(b)
            z = torch.randn(b, self.model_cfg.z_dim, device=self.device)
            with self._autocast():
                if cfg.reuse_fake:
                    fake_for_g = G(z, y_fake)
                    fake, y_fake_for_g = fake_for_g.detach(), y_fake
                else:
                    with torch.no_grad():
                        fake = G(z, y_fake)
            self.opt_d.zero_grad(set_to_none=True)
            if self.split_d:
                # two passes, each back-propagated at once, so only one half's activations live at a
                # time; the second runs SN in eval mode with the u, v the first just updated, so D
                # still does one power iteration and gets the same gradients as one joint pass
                with self._autocast():
                    d_real = D(real, y_real).float()
                    part = self.loss.d_loss_real(d_real)
                self._accumulate(part)
                self.D.eval()
                try:
                    with self._autocast():
                        d_fake = D(fake.to(real.dtype), y_fake).float()
                        part_fake = self.loss.d_loss_fake(d_fake)
                    self._accumulate(part_fake)
                finally:
                    self.D.train()
                d_loss = part.detach() + part_fake.detach()
            else:
                with self._autocast():
                    y_both = torch.cat([y_real, y_fake]) if self.conditional else None
                    logits = D(torch.cat([real, fake.to(real.dtype)]), y_both).float()
                    d_real, d_fake = logits[:b], logits[b:]
                    d_loss = self.loss.d_loss(d_real, d_fake)
                self._accumulate(d_loss)
            if self.loss.gp_weight:
                critic = (lambda x: D(x, y_real)) if self.conditional else (lambda x: D(x))
                gp = self.loss.gp_weight * gradient_penalty(critic, real, fake.float())
                self._accumulate(gp)
                d_loss = d_loss.detach() + gp.detach()
            self._optimizer_step(self.opt_d)

        freeze_d = not self.dist.enabled  # DDP needs every parameter to take part in backward
        if freeze_d:
            self.D.requires_grad_(False)
        with self._autocast():
            if cfg.reuse_fake:
                fake, y_fake = fake_for_g, y_fake_for_g
            else:
                y_fake = self._fake_labels(b)
                fake = G(torch.randn(b, self.model_cfg.z_dim, device=self.device), y_fake)
            g_loss = self.loss.g_loss(D(fake, y_fake).float())
            if cfg.ortho_reg > 0:
                g_loss = g_loss + cfg.ortho_reg * orthogonal_regularization(self.G)
        self._backward(g_loss, self.opt_g)
        if freeze_d:
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        self.step += 1
        return torch.stack([d_loss.detach(), g_loss.detach(), d_real.detach().mean(), d_fake.detach().mean()])

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample_grid(self, layout, path: Path) -> Path:
        net = self.ema.model if self.ema else self.G
        was_training = net.training
        net.eval()
        z = layout.z.to(self.device)
        y = layout.y.to(self.device) if layout.y is not None else None
        images = torch.cat([net(z[i: i + 64], None if y is None else y[i: i + 64]) for i in range(0, len(z), 64)])
        net.train(was_training)
        return save_grid(images, path, layout.nrow, scale=2 if self.cfg.res <= 32 else 1)


def _check_finite(pending: list[tuple[int, torch.Tensor]], run: RunDir | None) -> torch.Tensor | None:
    """Stacks the pending per-step stats; raises at the first step whose losses are NaN or Inf."""
    if not pending:
        return None
    stats = torch.stack([t for _, t in pending]).float().cpu()
    bad = (~torch.isfinite(stats[:, :2])).any(dim=1).nonzero()
    if len(bad):
        step = pending[int(bad[0])][0]
        last = run.last_checkpoint() if run else None
        where = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        raise GancliError(f"the loss became NaN or Inf at step {step}; training stopped ({where})")
    return stats


def train(cfg: TrainConfig, show_progress: bool = True, resume_state: dict | None = None,
          resume_dir: Path | None = None) -> TrainResult:
    """Trains as ``cfg`` says; resumes from ``resume_state`` (a loaded checkpoint) into ``resume_dir``."""
    cfg.validate()
    started = time.time()
    trainer = Trainer(cfg, show_progress=show_progress, resume_state=resume_state)
    dist: DistInfo = trainer.dist
    run = None
    try:
        run_path = resume_dir if resume_dir is not None else RunDir.default_path(cfg)
        run_path = broadcast_object(str(run_path), dist)
        run = RunDir(Path(run_path), keep=cfg.keep, active=dist.is_main)
        # rank 0 alone sets up evaluation and checks and creates the directory; every rank learns
        # the outcome, so an error stops all of them instead of leaving the others waiting
        error = evaluator = None
        if dist.is_main:
            try:
                if cfg.eval_every:
                    from gancli.training.evaluation import TrainEvaluator

                    evaluator = TrainEvaluator(trainer)  # before the run directory: nothing written on failure
                if resume_state is None:
                    run.create(cfg, trainer.model_cfg, trainer.dataset_info)
            except GancliError as err:
                error = str(err)
        error = broadcast_object(error, dist)
        if error:
            raise GancliError(error)
        layout = fixed_layout(trainer.dataset, trainer.model_cfg.z_dim, cfg.seed, trainer.conditional)
        if dist.is_main and not run.real_grid.exists():
            save_grid(real_images(trainer.dataset, layout, cfg.seed, trainer.conditional), run.real_grid,
                      layout.nrow, scale=2 if cfg.res <= 32 else 1)
        result = _loop(trainer, run, layout, started, evaluator)
    finally:
        cleanup_distributed(dist)
    return result


def _loop(trainer: Trainer, run: RunDir, layout, started: float, evaluator=None) -> TrainResult:
    cfg, dist = trainer.cfg, trainer.dist
    from gancli.training.progress import TrainProgress

    last_grid = last_eval = None
    last_ckpt = run.last_checkpoint()
    pending: list[tuple[int, torch.Tensor]] = []
    interval_start, interval_steps = time.time(), 0
    interrupted = False
    imgs_per_step = cfg.batch_size * dist.world
    progress = TrainProgress(cfg.steps, trainer.step, enabled=trainer.show_progress and dist.is_main)
    with _StopFlag() as stop, progress:
        while trainer.step < cfg.steps:
            stats = trainer.train_step()
            pending.append((trainer.step, stats))
            interval_steps += 1
            step = trainer.step
            progress.advance(step)
            is_last = step >= cfg.steps
            want_log = step % cfg.log_every == 0 or is_last
            want_sample = step % cfg.sample_every == 0 or is_last
            want_ckpt = step % cfg.ckpt_every == 0 or is_last or stop.requested
            if want_log or want_sample or want_ckpt:
                table = _check_finite(pending, run)
                pending.clear()
                if want_log and table is not None:
                    elapsed = time.time() - interval_start
                    mean = table.mean(0).tolist()
                    record = {"step": step, "d_loss": mean[0], "g_loss": mean[1], "d_real": mean[2],
                              "d_fake": mean[3], "lr_g": trainer.opt_g.param_groups[0]["lr"],
                              "lr_d": trainer.opt_d.param_groups[0]["lr"],
                              "img_s": interval_steps * imgs_per_step / max(elapsed, 1e-9),
                              "time": round(time.time() - started, 2)}
                    run.log_metrics(record)
                    progress.show_stats(record)
                    interval_start, interval_steps = time.time(), 0
                if want_sample and dist.is_main:
                    last_grid = trainer.sample_grid(layout, run.sample_path(step))
                if want_ckpt:
                    last_ckpt = run.save_checkpoint(trainer.state(), step) or last_ckpt
            if evaluator is not None and (step % cfg.eval_every == 0 or is_last) and not stop.requested:
                eval_started = time.time()
                last_eval = evaluator(step)
                run.log_metrics(last_eval)
                progress.show_eval(last_eval)
                interval_start += time.time() - eval_started  # img/s counts training time only
            if stop.requested:
                interrupted = True
                break
    if dist.is_main and not interrupted:
        frames = run.sample_frames()
        if len(frames) > 1:
            save_gif(frames, run.progress_gif)
    return TrainResult(run.path, trainer.step, last_grid, last_ckpt, time.time() - started, interrupted, last_eval)


def load_resume(resume: str) -> tuple[dict, Path]:
    """Loads the checkpoint named by ``--resume`` (a .pt file or a run directory) -> (state, run dir)."""
    try:
        path, _ = resolve_checkpoint(resume)
    except GancliError as err:
        raise GancliError(f"--resume {resume}: {err}") from None
    state = load_checkpoint(path)
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return state, run_dir


#: options that may differ from the checkpoint's when resuming
RESUMABLE_OVERRIDES = {"steps", "device", "log_every", "sample_every", "ckpt_every", "keep", "compile", "split_d", "resume",
                       "dry_run", "data_root", "download", "eval_every", "eval_n", "eval_metrics", "feature_extractor",
                       "inception_weights"}


def resume_config(state: dict, explicit: dict) -> TrainConfig:
    """The checkpoint's TrainConfig with the explicitly given options that may change on resume."""
    saved = TrainConfig.from_dict(state["train_config"])
    base = saved.to_dict()
    for key, value in explicit.items():
        if key in RESUMABLE_OVERRIDES:
            base[key] = value
        elif value != base.get(key):
            raise GancliError(
                f"--{key.replace('_', '-')} cannot change when resuming (the checkpoint has {base.get(key)!r})"
            )
    cfg = TrainConfig.from_dict(base)
    if cfg.steps <= int(state["step"]):
        raise GancliError(
            f"the checkpoint is already at step {state['step']}; pass --steps larger than that to train on"
        )
    return cfg


__all__ = ["train", "Trainer", "TrainResult", "load_resume", "resume_config", "resolve_device"]
