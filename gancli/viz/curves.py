"""Training curves from a run's metrics.jsonl: losses, D's outputs and evaluation metrics vs step."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gancli.errors import GancliError

#: training-record keys that are bookkeeping, not curves
NOT_DRAWN = ("step", "time", "img_s", "event")


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


def plot_curves(metrics_path: Path, out: Path, title: str | None = None,
                panels: dict[str, tuple[str, ...]] | None = None,
                labels: dict[str, str] | None = None,
                eval_panels: dict[str, tuple[tuple[str, str], ...]] | None = None) -> dict[str, int]:
    """Draws one PNG: the training statistics (grouped as the method's ``panels`` say, e.g.
    "losses": (d_loss, g_loss); any other statistic in a panel of its own), then one panel per
    evaluation series found (``eval_panels``: title -> ((record key, label), ...), e.g. the metric
    registry's). Returns {key: points drawn}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gancli.checkpoint import atomic_write_bytes

    train, evals = read_metrics(metrics_path)
    if not train and not evals:
        raise GancliError(f"{metrics_path} holds no metrics to plot")
    labels = dict(labels or {})
    stats = list(dict.fromkeys(k for r in train for k, v in r.items()
                               if k not in NOT_DRAWN and not k.startswith("lr_") and isinstance(v, (int, float))))
    grouped = {k for keys in (panels or {}).values() for k in keys}
    # (panel title, [(key, label)], source)
    layout = [(name, [(k, labels.get(k, k)) for k in keys if k in stats], train) for name, keys in (panels or {}).items()]
    layout += [(k, [(k, k)], train) for k in stats if k not in grouped]
    layout += [(name, list(series), evals) for name, series in (eval_panels or {}).items()
               if any(key in e for key, _ in series for e in evals)]
    layout = [entry for entry in layout if entry[1]]
    if not layout:
        raise GancliError(f"{metrics_path} holds no losses or evaluation metrics to plot")
    fig, axes = plt.subplots(len(layout), 1, figsize=(7, 2.4 * len(layout)), sharex=True, squeeze=False)
    drawn: dict[str, int] = {}
    for ax, (panel, series, source) in zip(axes[:, 0], layout):
        for key, label in series:
            points = [(r["step"], r[key]) for r in source if isinstance(r.get(key), (int, float))]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=label, marker="o" if source is evals else None, markersize=3)
                drawn[key] = len(points)
        ax.set_ylabel(panel)
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
