"""What ``--resume`` may change, and the config a resumed run continues with."""
from __future__ import annotations

from pathlib import Path

from gancli.checkpoint import load_checkpoint, resolve_checkpoint, run_folder_of
from gancli.config import TrainConfig
from gancli.errors import GancliError
from gancli.methods import METHODS
from gancli.training.rundir import RunDir


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
