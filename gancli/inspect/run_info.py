"""What a checkpoint holds, for ``gancli info``: model, data, step, labels, sizes, last metrics;
and ``gancli plot``'s run and panels."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gancli.checkpoint import resolve_checkpoint, run_dir_of, run_folder_of
from gancli.config import RUNS_ROOT, ModelConfig
from gancli.errors import GancliError
from gancli.methods import METHODS, load_run_checkpoint
from gancli.metrics.registry import curve_traits, eval_panels
from gancli.models import count_parameters, resolve_model
from gancli.viz.curves import plot_curves
from gancli import runlog


def checkpoint_info(target: str | Path | None, runs_root: str | Path = RUNS_ROOT) -> dict[str, Any]:
    """A JSON-able description of the checkpoint ``target`` resolves to (see ``resolve_checkpoint``).
    Every network is built and loaded, so a checkpoint whose tensors do not fit its config fails."""
    ckpt = load_run_checkpoint(target, runs_root)
    path, state, model = ckpt.path, ckpt.state, ckpt.model_config
    nets = {name: ckpt.network(name, ema=False)[0] for name in ckpt.network_names}
    data, train, run = ckpt.dataset, ckpt.train_config, ckpt.run_dir
    info: dict[str, Any] = {
        "checkpoint": str(path),
        "found_as": ckpt.how,
        "run_dir": str(run) if run else None,
        "gancli_version": state.get("gancli_version"),
        "step": ckpt.step,
        "method": ckpt.method.name,
        "preset": train.get("preset"),
        "model": model.name,
        "resolution": model.res,
        "channels": model.channels,
        "ch": model.ch,
        # a translator (CycleGAN) draws no z; its residual blocks say more
        **({"g_blocks": model.g_blocks} if ckpt.method.two_domain else {"z_dim": model.z_dim}),
        "attn_res": list(model.attn_res or []),
        "model_changes": model_changes(model),
        "conditioning": model.label_kind,
        "cond_mode": model.cond_mode if model.label_kind != "none" else None,
        "classes": list(data.get("class_names") or []) if model.label_kind == "class" else [],
        "attributes": list(data.get("attr_names") or []) if model.label_kind == "attrs" else [],
        "dataset": data.get("name"),
        "dataset_size": data.get("size"),
        **{f"params_{name}": count_parameters(net) for name, net in nets.items()},
        "ema": ckpt.has_ema(),
        "loss": train.get("loss"),
        "batch_size": train.get("batch_size"),
        "lr_g": train.get("lr_g"),
        "lr_d": train.get("lr_d"),
        "steps_planned": train.get("steps"),
        "train_seconds": training_seconds(run / "metrics.jsonl", ckpt.step) if run else None,
        "last_metrics": last_metrics(run / "metrics.jsonl", ckpt.step) if run else None,
        "last_eval": last_metrics(run / "metrics.jsonl", ckpt.step, event="eval") if run else None,
    }
    return info


#: model fields that are not choices: the data sets them, another field says them (sn_d is d_norm == "sn"),
#: or the run's gancli did (revision)
NOT_CHOICES = ("name", "res", "channels", "n_classes", "n_attrs", "sn_d", "revision")


def model_changes(model) -> dict[str, dict[str, Any]]:
    """The model choices that differ from the model's own defaults at this resolution and data:
    ``{"ch": {"value": 8, "default": 64}, "d_ch": {"value": 24, "default": 8}}`` (d_ch's default is
    ch, whatever ch is)."""
    try:
        defaults = resolve_model(ModelConfig(name=model.name, res=model.res, channels=model.channels,
                                             n_classes=model.n_classes, n_attrs=model.n_attrs,
                                             revision=model.revision)).to_dict()
        # d_norm_gamma's default depends on d_norm (none for sn): compare with the default for the run's d_norm
        defaults["d_norm_gamma"] = resolve_model(ModelConfig(name=model.name, res=model.res, d_norm=model.d_norm,
                                                             revision=model.revision)).d_norm_gamma
    except GancliError:  # a model that cannot be built without options: nothing to compare with
        return {}
    defaults["d_ch"] = model.ch
    changes = {}
    for key, value in model.to_dict().items():
        if key in NOT_CHOICES or key not in defaults:
            continue
        default = defaults[key]
        if isinstance(value, list) or isinstance(default, list):
            value, default = list(value or []), list(default or [])
        if value != default:
            changes[key] = {"value": value, "default": default}
    return changes


def training_seconds(path: Path, step: int | None = None) -> float | None:
    """Wall time of training up to ``step``, summed over the processes that trained the run."""
    return runlog.training_seconds(runlog.read_records(path), step)


def last_metrics(path: Path, step: int | None = None, event: str | None = None) -> dict[str, Any] | None:
    """The last metrics.jsonl record at or before ``step`` (the run may have gone on past this
    checkpoint): a training record, or with ``event="eval"`` an evaluation."""
    best = None
    for record in runlog.read_records(path):
        if record.get("event") == event and (step is None or record["step"] <= step):
            best = record
    return best


def run_method_name(run: Path) -> str:
    """The training method a run directory's config.json names ("gan" for runs from before methods)."""
    try:
        config = json.loads((Path(run) / "config.json").read_text())
        return str(((config.get("train") or {}).get("method")) or "gan")
    except (OSError, ValueError, AttributeError):
        return "gan"


def plot_run(target: str | Path | None, out: Path | None = None, runs_root: str | Path = RUNS_ROOT) -> tuple[Path, dict[str, int]]:
    """``gancli plot``: the curves of a run (a run directory, one of its checkpoints, or None = the
    newest run) into ``out`` (default RUN/curves.png, replaced: it is redrawn from metrics.jsonl,
    which only grows), panels as the run's method groups them, evaluations one line per setting
    (``gancli.viz.curves``)."""
    if target is not None and (Path(target) / "metrics.jsonl").is_file():
        run = Path(target)
    else:
        checkpoint, _ = resolve_checkpoint(target, runs_root)
        run = run_dir_of(checkpoint) or run_folder_of(checkpoint)
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        raise GancliError(f"{run} has no metrics.jsonl to plot")
    out = Path(out) if out is not None else run / "curves.png"
    if out.suffix.lower() != ".png":
        raise GancliError(f"--out {out}: the plot is a PNG; give a .png path")
    name = run_method_name(run)
    method = METHODS.get(name) if name in METHODS else None
    drawn = plot_curves(metrics, out, title=run.name, panels=method.panels if method else None,
                        labels=method.stat_labels if method else None, eval_panels=eval_panels(),
                        traits=curve_traits())
    return out, drawn
