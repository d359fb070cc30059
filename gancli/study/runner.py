"""Running a study: each plan is one ``gancli train`` run in ``<study>/runs/<name>``.

A run whose last checkpoint has reached its steps and whose last evaluation is recorded is skipped;
one with an earlier checkpoint (or an evaluation cut off) is resumed (bit-exactly, as ``--resume``);
one without a checkpoint starts (again). ``study.json`` records the study. A study may grow into
its folder (seeds, variants, hparams, steps: only what is new trains); a run that was started keeps
the options it was started with, and a change to them is refused, naming the run and the option.
``--jobs K`` runs K plans at once in worker processes, each with ``cores // K`` threads
(OMP_NUM_THREADS and ``torch.set_num_threads``), so the machine is not oversubscribed; the workers
die with the study's process (a stop signal is passed on to them, and each saves its run).
"""
from __future__ import annotations

import ctypes
import json
import multiprocessing as mp
import os
import shlex
import signal as signals
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

import torch

from gancli import __version__
from gancli.checkpoint import atomic_write_bytes, load_checkpoint
from gancli.config import TrainConfig, parse_json, read_option_file
from gancli.device import keep_freed_memory
from gancli.errors import GancliError
from gancli.runlog import read_records, split_records
from gancli.study.spec import RunPlan, Study, _diff
from gancli.training import load_resume, missing_eval, resume_config, train
from gancli.viz.units import format_seconds

MANIFEST = "study.json"
#: train options that are flags without a --no- form: only a true value is written
POSITIVE_ONLY = {"download", "compile", "narrow_b", "allow_data_change"}


def run_state(plan: RunPlan) -> tuple[str, int]:
    """("done" | "resume" | "new", the step of its last checkpoint)."""
    last = Path(plan.options["out"]) / "checkpoints" / "last.pt"
    if not last.is_file():
        return "new", 0
    try:
        step = int(load_checkpoint(last).get("step", 0))
    except GancliError:
        return "resume", 0  # let --resume say what is wrong with it
    cfg = TrainConfig.from_options(plan.options)
    if step >= cfg.steps and not missing_eval(cfg, step, Path(plan.options["out"])):
        return "done", step
    return "resume", step


def plan_states(study: Study) -> list[tuple[RunPlan, str, int]]:
    return [(plan, *run_state(plan)) for plan in study.runs()]


#: options a finished or started run may be given again with another value: it trains on to the new
#: step count; everything else it was trained with must stay as it was
GROWABLE = ("steps", "out")


def trained_with(plan: RunPlan) -> dict[str, Any] | None:
    """The resolved train options a plan's run folder was started with (its config.json), or None
    when nothing was started there yet."""
    path = Path(plan.options["out"]) / "config.json"
    if not path.is_file():
        return None
    try:
        saved = parse_json(read_option_file(path, "run config"), str(path))
        return _comparable(TrainConfig.from_dict(saved["train"]).to_dict())
    except (GancliError, KeyError, TypeError) as err:
        raise GancliError(f"run {plan.name}: {path} cannot be read ({err}); move that run folder away") from None


def _comparable(train: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in train.items() if k not in GROWABLE}))


def plan_changes(plan: RunPlan) -> list[str]:
    """How the options a plan now asks for differ from what its started run was trained with ([] when
    they do not, or nothing was started)."""
    before = trained_with(plan)
    if before is None:
        return []
    return _diff(before, _comparable(TrainConfig.from_options(plan.options).to_dict()))


def check_manifest(study: Study) -> None:
    """A study may grow (new seeds, variants, hparams: only the new runs train) and may change a
    setting that no started run was trained with; a run that was started keeps its options (a
    change is refused, naming the run and the option). Creates the folder; writes study.json."""
    path = study.out / MANIFEST
    if path.exists() and not path.is_file():
        raise GancliError(f"{path} is not a gancli study file; choose another --out")
    if path.is_file():
        try:
            saved = parse_json(read_option_file(path, "study file"), str(path))
            saved["study"]
        except (GancliError, KeyError, TypeError) as err:
            raise GancliError(f"{path} is not a gancli study file ({err}); choose another --out") from None
    for plan in study.runs():
        changes = plan_changes(plan)
        if changes:
            shown = "; ".join(changes[:4]) + ("; ..." if len(changes) > 4 else "")
            raise GancliError(f"{study.out}: run {plan.name} was trained with other options ({shown}); rerun it "
                              "with the options it was started with, or choose another --out")
    try:
        study.out.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"gancli_version": __version__, "study": study.to_dict(),
                           "runs": [plan.name for plan in study.runs()]}, indent=2) + "\n"
        atomic_write_bytes(path, lambda f: f.write(text.encode()))
    except OSError as err:
        raise GancliError(f"cannot write the study folder {study.out}: {err.strerror or err}") from None


def train_command_line(plan: RunPlan, program: str = "gancli") -> str:
    """The plain ``gancli train ...`` command of a plan (what ``--print-commands`` prints)."""
    options = dict(plan.options)
    args = [program, "train", str(options.pop("dataset", "shapes"))]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                args.append(flag)
            elif key not in POSITIVE_ONLY:
                args.append("--no-" + key.replace("_", "-"))
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        args += [flag, str(value)]
    return shlex.join(args)


def rerunnable_command(plan: RunPlan, program: str = "gancli") -> str:
    """One shell line that trains a plan's run whether or not it has started when the line runs:
    ``--resume`` when its run directory holds a checkpoint, else the plain ``gancli train`` line; so
    a line cut off by a cluster's time limit is simply run again."""
    out = str(plan.options["out"])
    steps = TrainConfig.from_options(plan.options).steps
    resume = shlex.join([program, "train", "--resume", out, "--steps", str(steps)])
    checkpoint = shlex.quote(str(Path(out) / "checkpoints" / "last.pt"))
    return f"if [ -e {checkpoint} ]; then {resume}; else {train_command_line(plan, program)}; fi"


def commands_left(study: Study, program: str = "gancli") -> tuple[list[str], list[str]]:
    """(a rerunnable line per run not finished yet, the names of the finished runs): what
    ``--print-commands`` prints."""
    lines, done = [], []
    for plan, state, _ in plan_states(study):
        if state == "done":
            done.append(plan.name)
        else:
            lines.append(rerunnable_command(plan, program))
    return lines, done


def run_plan(plan: RunPlan) -> dict[str, Any]:
    """Trains (or resumes, or skips) one plan in this process; a one-line summary as a dict."""
    state, step = run_state(plan)
    started = time.time()
    if state == "done":
        return {"name": plan.name, "state": "done", "step": step, "seconds": 0.0}
    if state == "resume":
        saved, run_dir = load_resume(plan.options["out"])
        cfg = resume_config(saved, {"steps": TrainConfig.from_options(plan.options).steps}, run_dir)
        result = train(cfg, show_progress=False, resume_state=saved, resume_dir=run_dir)
    else:
        result = train(TrainConfig.from_options(plan.options), show_progress=False)
    summary = {"name": plan.name, "state": "resumed" if state == "resume" else "trained", "step": result.step,
               "from": step, "seconds": time.time() - started, "interrupted": result.interrupted}
    if result.last_eval and "fid" in result.last_eval:
        summary["fid"] = result.last_eval["fid"]
    return summary


def _init_worker(threads: int, parent: int) -> None:
    die_with_parent(parent)
    torch.set_num_threads(threads)
    keep_freed_memory()


def die_with_parent(parent: int, grace: float = 300.0) -> None:
    """This worker is sent SIGTERM when the study's process dies, however it dies (kill -9
    included): the training loop saves and stops on it, as for a single run. Linux's parent-death
    signal sends it at once; elsewhere a watchdog thread that polls the parent's pid sends it. The
    watchdog also ends the worker outright if it is still alive ``grace`` seconds after the parent
    died. (Exactly one SIGTERM: a second one would abandon the save, as Ctrl-C twice does.)"""
    armed = False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(1, int(signals.SIGTERM), 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        if not armed:
            os.kill(os.getpid(), signals.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="gancli-parent-watch", daemon=True).start()


def _run_in_worker(plan: RunPlan, parent: int | None = None) -> dict[str, Any]:
    if parent is not None and os.getppid() != parent:
        return {"name": plan.name, "state": "failed", "error": "the study's process is gone"}
    try:
        return run_plan(plan)
    except GancliError as err:
        return {"name": plan.name, "state": "failed", "error": str(err)}
    finally:
        if parent is not None and os.getppid() != parent:
            os._exit(1)  # the run is saved; nobody is left to read the summary or send the next run


class _Interrupt:
    """In the study's process while workers train: SIGINT, SIGTERM and SIGHUP are passed on to the
    workers (each saves its run and stops at its next step) and no run starts after them."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, pool):
        self.pool, self.signal, self._old = pool, None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signals, name, None)
                if sig is not None:
                    self._old[sig] = signals.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signals.Signals(signum).name
        for proc in list((getattr(self.pool, "_processes", None) or {}).values()):
            try:
                os.kill(proc.pid, signals.SIGTERM)
            except (OSError, ProcessLookupError):
                pass

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signals.signal(sig, handler)
        return False


#: seconds between a study's progress lines (each running run's step and ETA, and the study's)
PROGRESS_EVERY = 60.0


class StudyProgress:
    """What a study shows while its runs train: every ``every`` seconds, one line per running run
    (its step from metrics.jsonl, its rate since the study saw it start, its ETA) and one for the
    study (runs finished, the time left: the running runs' ETAs and the queued runs at the rate
    of the runs so far, over ``jobs`` at a time)."""

    def __init__(self, echo: Callable[[str], None], total: int, jobs: int, every: float | None = None):
        self.echo, self.total, self.jobs = echo, total, jobs
        self.every = PROGRESS_EVERY if every is None else every
        self.last = time.monotonic()
        self.seen: dict[str, tuple[float, int]] = {}  # run -> (when first seen training, its step then)
        self.run_seconds: list[float] = []  # predicted whole-run times, for the queued runs

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def _step(self, plan: RunPlan) -> int | None:
        records, _ = split_records(read_records(Path(plan.options["out"]) / "metrics.jsonl"))
        steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
        return steps[-1] if steps else None

    def report(self, running: list[RunPlan], queued: int, finished: int) -> None:
        self.last = time.monotonic()
        left = []
        for plan in running:
            steps = TrainConfig.from_options(plan.options).steps
            step = self._step(plan)
            if step is None:
                self.echo(f"  {plan.name}: starting")
                continue
            since, first = self.seen.setdefault(plan.name, (self.last, step))
            rate = (step - first) / (self.last - since) if step > first and self.last > since else None
            if rate:
                left.append((steps - step) / rate)
                self.run_seconds.append(steps / rate)
            eta = f", {rate:.2f} it/s, {format_seconds((steps - step) / rate)} left" if rate else ""
            self.echo(f"  {plan.name}: step {step}/{steps} ({100 * step // max(steps, 1)}%){eta}")
        if self.run_seconds and (left or queued):
            per_run = sum(self.run_seconds[-20:]) / len(self.run_seconds[-20:])
            remaining = (sum(left) + queued * per_run) / max(1, min(self.jobs, len(running) + queued))
            self.echo(f"study: {finished}/{self.total} runs finished, about {format_seconds(remaining)} left")


def run_study(study: Study, jobs: int = 1, echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Runs every plan that is not finished; returns their summaries. Stops at the first failure
    (with jobs > 1: after the runs under way), naming the run. A stop signal (Ctrl-C, SIGTERM) saves
    the runs under way and ends the study with a line that says so; rerunning it continues."""
    if jobs < 1:
        raise GancliError(f"--jobs must be at least 1, got {jobs}")
    check_manifest(study)
    states = plan_states(study)
    todo = [plan for plan, state, _ in states if state != "done"]
    done = len(states) - len(todo)
    echo(f"study {study.out}: {len(states)} runs ({done} finished, {len(todo)} to train)")
    summaries = []
    progress = StudyProgress(echo, len(states), jobs)
    if jobs == 1 or len(todo) <= 1:
        for i, plan in enumerate(todo, 1):
            stop = threading.Event()

            def watch(plan=plan, queued=len(todo) - i, finished=done + i - 1):
                while not stop.wait(min(1.0, progress.every)):
                    if progress.due():
                        progress.report([plan], queued, finished)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                summary = run_plan(plan)
            except GancliError as err:
                raise GancliError(f"run {plan.name} failed: {err}") from None
            finally:
                stop.set()
                watcher.join()
            echo(_line(summary, done + i, len(states)))
            summaries.append(summary)
            if summary.get("interrupted"):
                raise GancliError(f"run {plan.name} was interrupted at step {summary['step']} (saved); run the same "
                                  "command again to continue the study")
        return summaries
    threads = max(1, (os.cpu_count() or 1) // jobs)
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the workers inherit it before they import torch
    stopped = None
    try:
        parent = os.getpid()
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                 initargs=(threads, parent)) as pool, _Interrupt(pool) as interrupt:
            queue = list(todo)
            running: dict[Any, RunPlan] = {}
            while queue or running:
                while queue and len(running) < jobs and interrupt.signal is None:
                    plan = queue.pop(0)
                    running[pool.submit(_run_in_worker, plan, parent)] = plan
                if not running:
                    break
                finished, _ = wait(list(running), timeout=min(1.0, progress.every), return_when=FIRST_COMPLETED)
                if progress.due() and not finished:
                    progress.report(list(running.values()), len(queue), done + len(summaries))
                for future in finished:
                    plan = running.pop(future)
                    try:
                        summary = future.result()
                    except BrokenProcessPool:
                        if interrupt.signal is not None:
                            continue  # a worker between runs, ended by the stop signal
                        summary = {"name": plan.name, "state": "failed",
                                   "error": "its worker process died (killed, or out of memory); rerun the study to "
                                            "resume it from its last checkpoint"}
                    echo(_line(summary, done + len(summaries) + 1, len(states)))
                    summaries.append(summary)
                if any(s["state"] == "failed" and "worker process died" in s.get("error", "") for s in summaries):
                    queue.clear()
            stopped = interrupt.signal
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    if stopped is not None:
        saved = [f"{s['name']} at step {s['step']}" for s in summaries if s.get("interrupted")]
        raise GancliError(f"study stopped by {stopped}" + (f"; saved {', '.join(saved)}" if saved else "") +
                          "; run the same command again to continue it")
    failed = [s for s in summaries if s["state"] == "failed"]
    if failed:
        raise GancliError(f"run {failed[0]['name']} failed: {failed[0]['error']}")
    return summaries


def _line(summary: dict[str, Any], index: int, total: int) -> str:
    if summary["state"] == "failed":
        return f"[{index}/{total}] {summary['name']}: failed: {summary['error']}"
    span = f"steps {summary['from']} -> {summary['step']}" if summary.get("from") else f"{summary['step']} steps"
    if summary.get("interrupted"):
        return f"[{index}/{total}] {summary['name']}: interrupted at step {summary['step']} (saved) after {summary['seconds']:.0f} s"
    fid = f", FID {summary['fid']:.2f}" if "fid" in summary else ""
    return f"[{index}/{total}] {summary['name']}: {summary['state']} {span} in {summary['seconds']:.0f} s{fid}"


__all__ = ["MANIFEST", "PROGRESS_EVERY", "StudyProgress", "check_manifest", "commands_left", "plan_states", "rerunnable_command", "run_plan", "run_state",
           "run_study", "train_command_line"]
