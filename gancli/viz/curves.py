"""Training curves from a run's metrics.jsonl: losses, D's outputs and evaluation metrics vs step."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gancli.errors import GancliError

#: evaluation keys drawn, each in its own panel, with its axis label
EVAL_PANELS = {"fid": "FID", "kid_mean": "KID", "is_mean": "IS", "precision": "precision / recall",
               "class_accuracy": "class accuracy"}


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training records, evaluation records) of a metrics.jsonl; lines cut short by a crash are skipped."""
    train, evals = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "step" in record:
                (evals if record.get("event") == "eval" else train).append(record)
    return train, evals


def plot_curves(metrics_path: Path, out: Path, title: str | None = None) -> dict[str, int]:
    """Draws one PNG: D and G losses, mean D(real) / D(fake), then one panel per evaluation metric
    found (FID, KID, IS, precision and recall, class accuracy). Returns {panel: points drawn}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gancli.checkpoint import atomic_write_bytes

    train, evals = read_metrics(metrics_path)
    if not train and not evals:
        raise GancliError(f"{metrics_path} holds no metrics to plot")
    eval_keys = [k for k in EVAL_PANELS if any(k in e for e in evals)]
    panels = [name for name, keys in (("losses", ("d_loss", "g_loss")), ("D outputs", ("d_real", "d_fake")))
              if any(k in r for r in train for k in keys)] + eval_keys
    if not panels:
        raise GancliError(f"{metrics_path} holds no losses or evaluation metrics to plot")
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.4 * len(panels)), sharex=True, squeeze=False)
    drawn: dict[str, int] = {}
    for ax, panel in zip(axes[:, 0], panels):
        if panel == "losses":
            series = [("d_loss", "D loss"), ("g_loss", "G loss")]
        elif panel == "D outputs":
            series = [("d_real", "D(x) real"), ("d_fake", "D(G(z)) fake")]
        elif panel == "precision":
            series = [("precision", "precision"), ("recall", "recall")]
        else:
            series = [(panel, EVAL_PANELS[panel])]
        source = train if panel in ("losses", "D outputs") else evals
        for key, label in series:
            points = [(r["step"], r[key]) for r in source if isinstance(r.get(key), (int, float))]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=label, marker="o" if source is evals else None, markersize=3)
                drawn[key] = len(points)
        ax.set_ylabel(EVAL_PANELS.get(panel, panel))
        ax.grid(alpha=0.3)
        if len(series) > 1 and ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    atomic_write_bytes(Path(out), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return drawn
