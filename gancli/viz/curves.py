"""Training curves from a run's metrics.jsonl: losses, D's outputs and evaluation metrics vs step.

Evaluations are split into series by how they were made (feature extractor, number of images and,
for the metrics that compare with one, the reference), since numbers from different settings are
not points of one curve: "FID (shapes-net, n=2000)". Scales: FID (and KID where every value is
positive) on a log axis, so an early FID of 300 does not flatten the later 5-10; a fraction stored
0..1 that tables show in percent (class accuracy) is drawn in percent, on 0-100, and precision /
recall on 0-1; the training statistics, with 20 points or more, on the range of their 1st to 99th
percentile (a few early spikes no longer set the scale; the panel says how many points lie beyond).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gancli.errors import GancliError
from gancli.runlog import number, read_records, split_records
from gancli.checkpoint import atomic_write_bytes

#: training-record keys that are bookkeeping, not curves
NOT_DRAWN = ("step", "time", "img_s", "event")



@dataclass(frozen=True)
class CurveTraits:
    """How evaluation keys are drawn. The metric registry says it for its metrics
    (``gancli.metrics.registry.curve_traits``); this module names no metric."""

    log_scale: frozenset[str] = frozenset()  # drawn on a log axis (when every value is positive)
    percent: frozenset[str] = frozenset()  # stored as a fraction 0..1, shown in percent
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # a fixed range (after the percent conversion)
    reference_free: frozenset[str] = frozenset()  # do not depend on the reference images (IS reads G's samples alone)


NO_TRAITS = CurveTraits()
#: a training panel with at least this many points is scaled to its 1st-99th percentile
ROBUST_MIN_POINTS = 20
ROBUST_PERCENTILES = (1.0, 99.0)


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training records, evaluation records) of a metrics.jsonl (``gancli.runlog``: lines that are
    not records are skipped)."""
    return split_records(read_records(path))


def eval_setting(record: dict[str, Any], key: str, traits: CurveTraits = NO_TRAITS) -> tuple:
    """What makes evaluation values comparable: (feature extractor, images, reference, truncation,
    without EMA); the reference only for metrics that compare with one."""
    reference = None if key in traits.reference_free else record.get("reference")
    parts = (record.get("feature_extractor"), record.get("n"), reference, record.get("truncation"))
    return (*(p if p is None or isinstance(p, (str, int, float)) else str(p) for p in parts), record.get("ema") is False)


def _short_reference(reference: str) -> str:
    """"shapes train, 20000 images at 32px" -> "shapes train, 20000 images" (all share the resolution)."""
    return reference.rsplit(" at ", 1)[0] if reference.endswith("px") else reference


def setting_text(setting: tuple, with_reference: bool) -> str:
    """``shapes-net, n=2000`` (``, ref shapes train, 20000 images`` when the panel's references
    differ; ``, t=0.5`` for truncated z, ``, no EMA`` for G's raw weights)."""
    extractor, n, reference, truncation, raw = setting
    parts = [str(extractor) if extractor else None, f"n={n}" if n is not None else None,
             f"ref {_short_reference(str(reference))}" if with_reference and reference else None,
             f"t={truncation:g}" if truncation is not None else None, "no EMA" if raw else None]
    return ", ".join(p for p in parts if p)


def eval_series(evals: list[dict[str, Any]], key: str, traits: CurveTraits = NO_TRAITS
                ) -> list[tuple[str, list[tuple[int, float]]]]:
    """The evaluation values of ``key`` split by setting: [(setting text, [(step, value), ...])], in
    the order the settings first appear."""
    by_setting: dict[tuple, list[tuple[int, float]]] = {}
    for record in evals:
        value = number(record, key)
        if value is not None:
            scale = 100.0 if key in traits.percent else 1.0
            by_setting.setdefault(eval_setting(record, key, traits), []).append((record["step"], scale * value))
    references = {setting[2] for setting in by_setting}
    return [(setting_text(setting, len(references) > 1), points) for setting, points in by_setting.items()]


def _log_axis(ax) -> None:
    """A log y axis labelled in plain numbers (80, 100, 200), also between decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    low, high = (v for v in ax.dataLim.intervaly)
    ax.yaxis.set_major_formatter(plain)
    if high / low < 100:  # up to two decades: label 20 and 50 between 10 and 100 as well
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)


def _robust_ylim(ax, values: list[float], longest: int) -> None:
    """When the panel's curves have ``ROBUST_MIN_POINTS`` points or more (``longest``), scales it to
    the 1st-99th percentile of its values (plus a margin) if some lie far outside, and notes how
    many points are beyond the range."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if longest < ROBUST_MIN_POINTS or not len(finite):
        return
    low, high = np.percentile(finite, ROBUST_PERCENTILES)
    margin = 0.1 * (high - low) or 0.1 * max(abs(high), 1e-3)
    low, high = low - margin, high + margin
    beyond = int(((finite < low) | (finite > high)).sum())
    if beyond:
        ax.set_ylim(low, high)
        ax.text(0.99, 0.97, f"{beyond} point{'s' if beyond > 1 else ''} beyond the range (1st-99th percentile shown)",
                transform=ax.transAxes, ha="right", va="top", fontsize=7, color="0.35")


def plot_curves(metrics_path: Path, out: Path, title: str | None = None,
                panels: dict[str, tuple[str, ...]] | None = None,
                labels: dict[str, str] | None = None,
                eval_panels: dict[str, tuple[tuple[str, str], ...]] | None = None,
                traits: CurveTraits = NO_TRAITS) -> dict[str, int]:
    """Draws one PNG: the training statistics (grouped as the method's ``panels`` say, e.g.
    "losses": (d_loss, g_loss); any other statistic in a panel of its own), then one panel per
    evaluation metric found (``eval_panels``: title -> ((record key, label), ...), e.g. the metric
    registry's, drawn as its ``traits`` say), one line per evaluation setting. Returns {what: points drawn}: training statistics
    by key, evaluation series as ``fid [shapes-net, n=2000]`` (the bare key for records that name
    no setting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


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
    layout += [(name + (" (%)" if any(key in traits.percent for key, _ in series) else ""), list(series), evals)
               for name, series in (eval_panels or {}).items()
               if any(key in e for key, _ in series for e in evals)]
    layout = [entry for entry in layout if entry[1]]
    if not layout:
        raise GancliError(f"{metrics_path} holds no losses or evaluation metrics to plot")
    fig, axes = plt.subplots(len(layout), 1, figsize=(7, 2.4 * len(layout)), sharex=True, squeeze=False)
    drawn: dict[str, int] = {}
    for ax, (panel, series, source) in zip(axes[:, 0], layout):
        lines, values, described, longest = 0, [], False, 0
        for key, label in series:
            if source is evals:
                for setting, points in eval_series(evals, key, traits):
                    steps, ys = zip(*points)
                    ax.plot(steps, ys, label=f"{label} ({setting})" if setting else label, marker="o", markersize=3)
                    drawn[f"{key} [{setting}]" if setting else key] = len(points)
                    values += ys
                    lines += 1
                    described = described or bool(setting)
                continue
            points = [(r["step"], number(r, key)) for r in source if number(r, key) is not None]
            if points:
                steps, ys = zip(*points)
                ax.plot(steps, ys, label=label)
                drawn[key] = len(points)
                longest = max(longest, len(points))
                values += ys
                lines += 1
        keys = [key for key, _ in series]
        if source is evals and any(k in traits.log_scale for k in keys) and values and min(values) > 0:
            _log_axis(ax)
        elif source is evals and all(k in traits.bounds for k in keys):
            low, high = traits.bounds[keys[0]]
            ax.set_ylim(low - 0.02 * (high - low), high + 0.02 * (high - low))
        elif source is train:
            _robust_ylim(ax, values, longest)
        ax.set_ylabel(panel)
        ax.grid(alpha=0.3, which="both" if ax.get_yscale() == "log" else "major")
        if (lines > 1 or described) and ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    atomic_write_bytes(Path(out), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return drawn
