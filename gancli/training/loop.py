"""The training loop behind ``gancli train``: ``train(TrainConfig(...)) -> TrainResult``.

Method-agnostic: what one iteration does is the training method's (``gancli.methods``, chosen by
``--method``), driven through ``Trainer`` (trainer.py). This module is the loop: the run directory,
logging, progress, sample grids, checkpoints, evaluation, signals and the NaN stop, step by step.
Around it: ``setup`` (names, data, model), ``state`` (what a checkpoint holds), ``resume`` (what
``--resume`` may change), ``signals`` (stop / save requests). The run directory holds config.json,
metrics.jsonl, samples/ and checkpoints/ (docs/training.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gancli.checkpoint import step_of
from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.loggers.base import LoggerError, RunLoggers, open_loggers
from gancli.training.distributed import DistInfo, broadcast_object, cleanup_distributed, step_with_peers
from gancli.training.evaluation import TrainEvaluator
from gancli.training.progress import TrainProgress, start_banner
from gancli.training.resume import missing_eval
from gancli.training.rundir import RunDir
from gancli.training.setup import check_names
from gancli.training.signals import StopSignals
from gancli.training.state import save_state
from gancli.training.trainer import Trainer
from gancli.viz.grid import display_scale, save_gif, save_grid


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
          resume_dir: Path | None = None, checked: bool = False) -> TrainResult:
    """Trains as ``cfg`` says; resumes from ``resume_state`` (a loaded checkpoint) into ``resume_dir``.
    ``checked``: ``cfg`` comes from ``gancli.api.train_config``, which validated it already."""
    if not checked:
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
                    save_grid(real, run.real_grid, layout.nrow, scale=display_scale(trainer.model_cfg.res))
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
        saved = save_state(trainer, run, run.last_checkpoint()) if not dist.enabled else None
        raise GancliError(f"{err}; training stopped (saved step {trainer.step} to {saved})" if saved else
                          f"{err}; training stopped") from None


def _steps(trainer: Trainer, run: RunDir, layout, started: float, evaluator, loggers: RunLoggers) -> TrainResult:
    cfg, dist = trainer.cfg, trainer.dist
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
    with StopSignals() as stop, progress:
        if evaluator is not None and first_step > 0 and dist.is_main and missing_eval(cfg, first_step, run.path):
            last_eval = evaluator(first_step)  # cut off last time: the figure of this step is redone
            run.log_metrics(last_eval)
            loggers.metrics(last_eval)
            progress.show_eval(last_eval)
        while trainer.step < cfg.steps:
            stats = step_with_peers(trainer, last_ckpt)
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
                    last_ckpt = save_state(trainer, run, last_ckpt)
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
                    last_ckpt = save_state(trainer, run, last_ckpt)
                interrupted = True
                break
    if dist.is_main and not interrupted:
        frames = run.sample_frames()
        if len(frames) > 1:
            with run.writing(run.progress_gif):
                save_gif(frames, run.progress_gif, titles=[f"step {step_of(f)}" for f in frames])
    return TrainResult(run.path, trainer.step, last_grid, last_ckpt, time.time() - started, interrupted, last_eval,
                       steps_done=trainer.step - first_step, signal=stop.stop_signal, is_main=dist.is_main)


__all__ = ["train", "TrainResult"]
