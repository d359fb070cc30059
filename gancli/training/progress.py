"""What ``gancli train`` shows on stderr while it trains (rank 0, ``show_progress`` only).

First a start banner (:func:`start_banner`): run directory, device, data, method, parameter counts,
cadence. Then, on a terminal, a rich progress bar -- ``train 400/1600 ━━━━ 0:01:02 eta 0:03:12`` --
with the method's statistics on a line of their own below it (so a narrow terminal keeps the step
and the ETA); elsewhere (nohup, SLURM, CI, ``> log 2>&1``) one plain line per log step, flushed at
once::

    step 400/1600 (25%)  97 img/s  eta 3m12s  D 1.234  G 0.567  D(x) +0.12  D(G(z)) -0.34

Evaluations and a method's alarm are lines of their own in both. The first step's statistics are
shown as soon as it is done (not only after the first ``--log-every`` interval).

``GANCLI_PROGRESS=plain`` or ``GANCLI_PROGRESS=bar`` forces either output (any other value: decide by
whether stderr is a terminal, as rich's ``Console.is_terminal`` says); ``TrainProgress(plain=...)``
does the same in code.
"""
from __future__ import annotations

import os
import time

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from gancli.metrics.registry import format_record
from gancli.models import count_parameters

#: the environment variable that forces plain lines ("plain") or the progress bar ("bar")
PROGRESS_ENV = "GANCLI_PROGRESS"


def plain_output(console: Console, plain: bool | None = None) -> bool:
    """Whether to print plain lines instead of a live bar: ``plain`` if given, else
    ``$GANCLI_PROGRESS`` (plain / bar), else when the console is neither a terminal nor Jupyter."""
    if plain is not None:
        return plain
    forced = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if forced in ("plain", "bar"):
        return forced == "plain"
    return not (console.is_terminal or console.is_jupyter)


class _BarWithStats(Progress):
    """rich's Progress with one more line below the bar: the statistics (cut with an ellipsis when
    the terminal is too narrow, never at the cost of the bar's step count and ETA)."""

    stats: Text | None = None

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        if self.stats is not None and self.stats.plain:
            yield self.stats


class TrainProgress:
    def __init__(self, total: int, start: int, labels: dict[str, str] | None = None,
                 formats: dict[str, str] | None = None, enabled: bool = True, *, plain: bool | None = None,
                 console: Console | None = None):
        """``labels``: statistic name -> short label, in the order shown (the method's ``stat_labels``);
        statistics without a label are shown by name after them. ``formats``: name -> format spec.
        ``plain``: plain lines (True) or the bar (False); None decides (module docstring).
        ``console``: where to write (default: stderr)."""
        self.enabled = enabled
        self.total = total
        self.start = start
        self.step = start
        self.labels = dict(labels or {})
        self.formats = dict(formats or {})
        self.alarm: str | None = None  # the first alarm a method raised: kept on the progress line
        self.console = console if console is not None else Console(stderr=True)
        self.plain = enabled and plain_output(self.console, plain)
        self._started = time.monotonic()
        self._progress: _BarWithStats | None = None
        if enabled and not self.plain:
            self._progress = _BarWithStats(
                TextColumn("[bold]train"), MofNCompleteColumn(), BarColumn(bar_width=30), TimeElapsedColumn(),
                TextColumn("eta"), TimeRemainingColumn(),
                console=self.console, transient=False,
            )
            self._task = self._progress.add_task("train", total=total, completed=start)

    def __enter__(self):
        self._started = time.monotonic()
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    # ------------------------------------------------------------------ output
    def _line(self, text: str, style: str | None = None) -> None:
        """One line above the bar, or a plain line written and flushed at once."""
        if not self.enabled:
            return
        if self.plain:
            self.console.file.write(text + "\n")
            self.console.file.flush()
        else:
            self.console.print(Text(text, style=style or ""), soft_wrap=True)

    def banner(self, lines: list[str]) -> None:
        """The start banner (:func:`start_banner`), printed before the bar appears."""
        for line in lines:
            self._line(line)

    def advance(self, step: int) -> None:
        self.step = step
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def show_first(self, step: int, stats: dict[str, float]) -> None:
        """The statistics of the run's first step, as soon as it is done (no img/s, no ETA yet)."""
        self._show({"step": step, **stats}, timing=False)

    def show_stats(self, record: dict) -> None:
        """The record's statistics on the bar (a plain line per call when not on a terminal); a
        method's alarm is printed once and stays on the bar / the lines as "ALARM since step N"."""
        if record.get("alarm") and self.alarm is None:
            self.alarm = f"ALARM since step {record['step']}"
            self._line(f"alarm: {record['alarm']}", style="bold red")
        self._show(record, timing=True)

    def show_eval(self, record: dict) -> None:
        """One line per evaluation (kept above the bar), e.g. ``step 400: FID 3.21, class accuracy 97.0%``."""
        self._line(format_eval(record))

    def _show(self, record: dict, timing: bool) -> None:
        if not self.enabled:
            return
        stats = format_stats({k: v for k, v in record.items() if k != "img_s"}, self.labels, self.formats)
        if self.plain:
            step = record["step"]
            parts = [f"step {step}/{self.total} ({100 * step // max(self.total, 1)}%)"]
            if timing and "img_s" in record:
                parts.append(f"{record['img_s']:.0f} img/s")
            if timing and step > self.start:
                rate = (step - self.start) / max(time.monotonic() - self._started, 1e-9)
                parts.append(f"eta {format_duration((self.total - step) / rate)}")
            if self.alarm:
                parts.append(self.alarm)
            self._line("  ".join(parts + ([stats] if stats else [])))
            return
        line = Text(no_wrap=True, overflow="ellipsis")
        if self.alarm:
            line.append(self.alarm, style="bold red").append("  ")
        if timing and "img_s" in record:
            line.append(f"{record['img_s']:.0f} img/s  ")
        line.append(stats)
        self._progress.stats = line
        self._progress.refresh()


#: record keys that are not a method's statistics
BOOKKEEPING = ("step", "time", "img_s", "event", "alarm")


def format_stats(record: dict, labels: dict[str, str], formats: dict[str, str] | None = None) -> str:
    """``97 img/s  D 1.234  G 0.567  D(x) +0.12 ...``: img/s, then every statistic of the record but
    those whose label is "" (kept in metrics.jsonl, left off the line)."""
    formats = formats or {}
    names = [k for k in labels if k in record]
    names += [k for k in record if k not in labels and k not in BOOKKEEPING and not k.startswith("lr_")]
    parts = [f"{record['img_s']:.0f} img/s"] if "img_s" in record else []
    parts += [f"{labels.get(name, name)} {record[name]:{formats.get(name, '.3f')}}" for name in names
              if isinstance(record[name], (int, float)) and labels.get(name, name)]  # label "": metrics.jsonl only
    return "  ".join(parts)


def format_eval(record: dict) -> str:
    return f"step {record['step']}: {format_record(record)} ({record['feature_extractor']}, n={record['n']})"


def format_duration(seconds: float) -> str:
    """``45s``, ``3m12s``, ``1h02m``, ``2d03h``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_count(n: int) -> str:
    """A parameter count: ``4.38 M``, ``52.3 k``, ``812``."""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 1000:
        return f"{n / 1e3:.1f} k"
    return str(n)


# ---------------------------------------------------------------------------------------- banner
def _describe_data(dataset, label_kind: str) -> str:
    if hasattr(dataset, "a") and hasattr(dataset, "b"):  # two-domain data
        size = f"A {len(dataset.a):,} + B {len(dataset.b):,} images"
    else:
        size = f"{len(dataset):,} images"
    shape = f"{dataset.resolution}x{dataset.resolution} px" + (f", {dataset.channels} channel"
                                                               if dataset.channels == 1 else "")
    if label_kind == "class":
        labels = f"{dataset.n_classes} classes"
    elif label_kind == "attrs":
        names = list(dataset.attr_names)
        labels = f"{len(names)} attributes" + (f" ({', '.join(names)})" if len(names) <= 4 else "")
    else:
        labels = "unconditional"
    return f"{dataset.name}: {size}, {shape}, {labels}"


def _describe_device(device, world: int, cfg) -> str:
    text = str(device)
    if device.type == "cuda":
        try:
            text += f" ({torch.cuda.get_device_name(device)})"
        except (RuntimeError, AssertionError):
            pass
    threads = torch.get_num_threads()
    parts = [text, f"{threads} torch thread{'s' if threads != 1 else ''}"]
    if world > 1:
        parts.append(f"{world} processes")
    if cfg.amp != "off":
        parts.append(f"amp {cfg.amp}")
    if cfg.compile:
        parts.append("compiled")
    return ", ".join(parts)


def start_banner(trainer, run_path) -> list[str]:
    """The lines printed before the first step, from what the trainer holds (its resolved configs,
    dataset, device and networks)::

        run      runs/shapes-sagan-32-20261122-053000
        device   cpu, 2 torch threads
        data     shapes: 20,000 images, 32x32 px, 10 classes
        method   preset quick, method gan, model sagan, loss hinge
        params   G 52.3 k, D 180.4 k
        cadence  1600 steps of batch 24; log every 25, samples every 320, checkpoints every 800, eval off
    """
    cfg, model_cfg, world = trainer.cfg, trainer.model_cfg, trainer.dist.world
    method = trainer.method
    setup = [f"preset {cfg.preset}", f"method {cfg.method}", f"model {model_cfg.name}"]
    if getattr(method, "loss", None) is not None:  # began and ebgan have their own objectives
        setup.append(f"loss {cfg.loss}" + (f" + GP {cfg.gp_weight:g}" if cfg.gp_weight else ""))
    params = ", ".join(f"{name} {format_count(count_parameters(net))}" for name, net in method.nets.items())
    batch = f"batch {cfg.batch_size}" + (f" x {world} processes" if world > 1 else "")
    evals = (f"eval every {cfg.eval_every} ({', '.join(cfg.eval_metrics)}, n={cfg.eval_n})" if cfg.eval_every
             else "eval off")
    cadence = (f"{cfg.steps} steps of {batch}; log every {cfg.log_every}, samples every {cfg.sample_every}, "
               f"checkpoints every {cfg.ckpt_every}, {evals}")
    rows = [("run", str(run_path)), ("device", _describe_device(trainer.device, world, cfg)),
            ("data", _describe_data(trainer.dataset, model_cfg.label_kind)), ("method", ", ".join(setup)),
            ("params", params), ("cadence", cadence)]
    lines = [f"{key:<8} {value}" for key, value in rows]
    if trainer.step:
        changed = getattr(trainer, "data_changes", None)
        lines.append(f"resuming from step {trainer.step}"
                     + (f" (the dataset changed: {'; '.join(changed)})" if changed else ""))
    return lines
