"""What a checkpoint holds, for ``gancli info``: model, data, step, labels, sizes, last metrics."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gancli.checkpoint import load_checkpoint, resolve_checkpoint, run_dir_of
from gancli.config import ModelConfig
from gancli.errors import GancliError


def checkpoint_info(target: str | Path | None, runs_root: str | Path = "runs") -> dict[str, Any]:
    """A JSON-able description of the checkpoint ``target`` resolves to (see ``resolve_checkpoint``)."""
    from gancli.models import build_models, count_parameters

    path, how = resolve_checkpoint(target, runs_root)
    state = load_checkpoint(path)
    try:
        model = ModelConfig.from_dict(state["model_config"])
        G, D = build_models(model)
    except (KeyError, TypeError, ValueError) as err:
        raise GancliError(f"{path}: its model config is missing or unusable ({err})") from None
    data = dict(state.get("dataset") or {})
    train = dict(state.get("train_config") or {})
    run = run_dir_of(path)
    info: dict[str, Any] = {
        "checkpoint": str(path),
        "found_as": how,
        "run_dir": str(run) if run else None,
        "gancli_version": state.get("gancli_version"),
        "step": int(state.get("step", 0)),
        "model": model.name,
        "resolution": model.res,
        "channels": model.channels,
        "ch": model.ch,
        "z_dim": model.z_dim,
        "attn_res": list(model.attn_res or []),
        "conditioning": model.label_kind,
        "cond_mode": model.cond_mode if model.label_kind != "none" else None,
        "classes": list(data.get("class_names") or []) if model.label_kind == "class" else [],
        "attributes": list(data.get("attr_names") or []) if model.label_kind == "attrs" else [],
        "dataset": data.get("name"),
        "dataset_size": data.get("size"),
        "params_G": count_parameters(G),
        "params_D": count_parameters(D),
        "ema": state.get("G_ema") is not None,
        "loss": train.get("loss"),
        "batch_size": train.get("batch_size"),
        "lr_g": train.get("lr_g"),
        "lr_d": train.get("lr_d"),
        "steps_planned": train.get("steps"),
        "last_metrics": last_metrics(run / "metrics.jsonl", int(state.get("step", 0))) if run else None,
        "last_eval": last_metrics(run / "metrics.jsonl", int(state.get("step", 0)), event="eval") if run else None,
    }
    return info


def last_metrics(path: Path, step: int | None = None, event: str | None = None) -> dict[str, Any] | None:
    """The last metrics.jsonl record at or before ``step`` (the run may have gone on past this
    checkpoint): a training record, or with ``event="eval"`` an evaluation."""
    if not path.exists():
        return None
    best = None
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a crash
                continue
            if not isinstance(record, dict) or record.get("event") != event:
                continue
            if step is None or record.get("step", 0) <= step:
                best = record
    return best
