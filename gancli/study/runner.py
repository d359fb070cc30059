"""Running a study: each plan is one ``gancli train`` run in ``<study>/runs/<name>``.

A run whose last checkpoint has reached its steps is skipped; one with an earlier checkpoint is
resumed (bit-exactly, as ``--resume``); one without a checkpoint starts (again). ``study.json``
records the study; running a changed study into the same folder is refused with the differences
named. ``--jobs K`` runs K plans at once in worker processes, each with ``cores // K`` threads
(OMP_NUM_THREADS and ``torch.set_num_threads``), so the machine is not oversubscribed.
"""
from __future__ import annotations

import json
import os
import shlex
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from gancli import __version__
from gancli.errors import GancliError
from gancli.study.spec import RunPlan, Study

MANIFEST = "study.json"
#: train options that are flags without a --no- form: only a true value is written
POSITIVE_ONLY = {"download", "compile", "narrow_b", "allow_data_change"}


def run_state(plan: RunPlan) -> tuple[str, int]:
    """("done" | "resume" | "new", the step of its last checkpoint)."""
    from gancli.checkpoint import load_checkpoint
    from gancli.config import TrainConfig

    last = Path(plan.options["out"]) / "checkpoints" / "last.pt"
    if not last.is_file():
        return "new", 0
    try:
        step = int(load_checkpoint(last).get("step", 0))
    except GancliError:
        return "resume", 0  # let --resume say what is wrong with it
    steps = TrainConfig.from_options(plan.options).steps
    return ("done" if step >= steps else "resume"), step


def plan_states(study: Study) -> list[tuple[RunPlan, str, int]]:
    return [(plan, *run_state(plan)) for plan in study.runs()]


def check_manifest(study: Study) -> None:
    """Refuses a study folder made by a different study; creates the folder and study.json."""
    path = study.out / MANIFEST
    if path.is_file():
        try:
            saved = json.loads(path.read_text())["study"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise GancliError(f"{path} is not a gancli study file ({err}); choose another --out") from None
        changes = study.differences(saved)
        if changes:
            shown = "; ".join(changes[:6]) + ("; ..." if len(changes) > 6 else "")
            raise GancliError(f"{study.out} holds a different study ({shown}); rerun it unchanged to resume it, "
                              "or choose another --out")
        return
    try:
        study.out.mkdir(parents=True, exist_ok=True)
        from gancli.checkpoint import atomic_write_bytes

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


def run_plan(plan: RunPlan) -> dict[str, Any]:
    """Trains (or resumes, or skips) one plan in this process; a one-line summary as a dict."""
    from gancli.config import TrainConfig
    from gancli.training import load_resume, resume_config, train

    state, step = run_state(plan)
    started = time.time()
    if state == "done":
        return {"name": plan.name, "state": "done", "step": step, "seconds": 0.0}
    if state == "resume":
        saved, run_dir = load_resume(plan.options["out"])
        cfg = resume_config(saved, {"steps": TrainConfig.from_options(plan.options).steps})
        result = train(cfg, show_progress=False, resume_state=saved, resume_dir=run_dir)
    else:
        result = train(TrainConfig.from_options(plan.options), show_progress=False)
    summary = {"name": plan.name, "state": "resumed" if state == "resume" else "trained", "step": result.step,
               "from": step, "seconds": time.time() - started, "interrupted": result.interrupted}
    if result.last_eval and "fid" in result.last_eval:
        summary["fid"] = result.last_eval["fid"]
    return summary


def _init_worker(threads: int) -> None:
    import torch

    from gancli.device import keep_freed_memory

    torch.set_num_threads(threads)
    keep_freed_memory()


def _run_in_worker(plan: RunPlan) -> dict[str, Any]:
    try:
        return run_plan(plan)
    except GancliError as err:
        return {"name": plan.name, "state": "failed", "error": str(err)}


def run_study(study: Study, jobs: int = 1, echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Runs every plan that is not finished; returns their summaries. Stops at the first failure
    (with jobs > 1: after the runs under way), naming the run."""
    if jobs < 1:
        raise GancliError(f"--jobs must be at least 1, got {jobs}")
    check_manifest(study)
    states = plan_states(study)
    todo = [plan for plan, state, _ in states if state != "done"]
    done = len(states) - len(todo)
    echo(f"study {study.out}: {len(states)} runs ({done} finished, {len(todo)} to train)")
    summaries = []
    if jobs == 1 or len(todo) <= 1:
        for i, plan in enumerate(todo, 1):
            try:
                summary = run_plan(plan)
            except GancliError as err:
                raise GancliError(f"run {plan.name} failed: {err}") from None
            echo(_line(summary, done + i, len(states)))
            summaries.append(summary)
            if summary.get("interrupted"):
                raise GancliError(f"run {plan.name} was interrupted; run the same command again to continue the study")
        return summaries
    threads = max(1, (os.cpu_count() or 1) // jobs)
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the workers inherit it before they import torch
    try:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            for i, summary in enumerate(pool.map(_run_in_worker, todo), 1):
                echo(_line(summary, done + i, len(states)))
                summaries.append(summary)
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    failed = [s for s in summaries if s["state"] == "failed"]
    if failed:
        raise GancliError(f"run {failed[0]['name']} failed: {failed[0]['error']}")
    return summaries


def _line(summary: dict[str, Any], index: int, total: int) -> str:
    if summary["state"] == "failed":
        return f"[{index}/{total}] {summary['name']}: failed: {summary['error']}"
    span = f"steps {summary['from']} -> {summary['step']}" if summary.get("from") else f"{summary['step']} steps"
    fid = f", FID {summary['fid']:.2f}" if "fid" in summary else ""
    return f"[{index}/{total}] {summary['name']}: {summary['state']} {span} in {summary['seconds']:.0f} s{fid}"


__all__ = ["MANIFEST", "check_manifest", "plan_states", "run_plan", "run_state", "run_study", "train_command_line"]
