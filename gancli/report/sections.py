"""The parts of a run's page read from its files: overview, configuration, curves, grids and GIF,
and the last evaluation. Each returns the section's HTML or raises GancliError saying why the
part cannot be shown (the page turns that into a note)."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from gancli.config.owned import not_applying
from gancli.errors import GancliError
from gancli.inspect.run_info import plot_run
from gancli.metrics.registry import caveats, format_record, generator_note, present
from gancli.report.context import RunContext
from gancli.viz import html

#: sample grids of a run: samples/step-N.png
STEP_GRID = re.compile(r"step-(\d+)\.png")
#: files at most this wide are shown twice as large (pixelated): a 32 px grid is otherwise tiny
SMALL_IMAGE = 400
#: lists longer than this (1000 class names) are shown cut short
LONG_LIST = 24


def value_text(value: Any) -> str:
    """A config value as the page shows it: lists joined, floats to 4 significant digits, null as -."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        if len(value) > LONG_LIST:
            return ", ".join(value_text(v) for v in value[:LONG_LIST - 4]) + f", ... ({len(value)} in all)"
        return ", ".join(value_text(v) for v in value) if value else "[]"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def flatten(options: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """{"a": 1, "b": {"c": 2}} -> [("a", 1), ("b.c", 2)]."""
    items = []
    for key, value in options.items():
        if isinstance(value, dict) and value:
            items += flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def key_value_tables(items: list[tuple[str, Any]], columns: int = 3) -> str:
    """Option / value pairs as ``columns`` tables side by side (a long config stays short)."""
    if not items:
        return html.note("nothing recorded")
    per = -(-len(items) // columns)
    tables = [html.table(None, ((key, value_text(value)) for key, value in items[i: i + per]), cls="kv")
              for i in range(0, len(items), per)]
    return f"<div class='row'>{''.join(tables)}</div>"


def overview(ctx: RunContext) -> str:
    """Where the run is, what it trains and how far it got, in one table."""
    ckpt = ctx.checkpoint
    cfg, data, train = ckpt.model_config, ctx.dataset, ctx.train_config
    records, evals = ctx.metrics
    planned = train.get("steps")
    conditioning = {"class": f"{cfg.n_classes} classes", "attrs": f"{cfg.n_attrs} attributes"}.get(cfg.label_kind,
                                                                                                   "unconditional")
    rows = [("run", str(ctx.run) if ctx.run else "- (a checkpoint file on its own)"),
            ("checkpoint", f"{ckpt.path} ({ckpt.how})"),
            ("step", f"{ckpt.step}" + (f" of {planned}" if planned else "")),
            ("method", ckpt.method.name), ("model", f"{cfg.name} at {cfg.res}x{cfg.res}, {cfg.channels} channels"),
            ("data", f"{data.get('name', '-')} ({value_text(data.get('size'))} images)"),
            ("conditioning", conditioning),
            ("images below from", "the generator's EMA weights" if ckpt.has_ema()
             else "the generator's training weights (no EMA saved)")]
    timed = [r for r in records if isinstance(r.get("time"), (int, float))]
    if timed:
        rows.append(("training time", f"{timed[-1]['time'] / 60:.1f} min to step {timed[-1]['step']}"))
    rows.append(("evaluations", f"{len(evals)} in metrics.jsonl" if evals else "none"))
    version = ckpt.state.get("gancli_version") or ctx.config.get("gancli_version")
    if version:
        rows.append(("trained with", f"gancli {version}"))
    return html.table(None, rows, cls="kv")


def configuration(ctx: RunContext) -> str:
    """The training options, the model's resolved config and the dataset description."""
    skip = not_applying(ctx.train_config) | {"model"}  # the model's options: its own table
    train = {k: v for k, v in ctx.train_config.items() if k not in skip}
    parts = [("Training", train), ("Model (as built)", ctx.checkpoint.model_config.to_dict()),
             ("Data", ctx.dataset)]
    source = "the checkpoint" if ctx.checkpoint.train_config else "config.json"
    body = html.paragraph(f"Read from {source}; - means the option was left to its default (resolved in the "
                          "model table).")
    for title, options in parts:
        body += f"<h3>{html.esc(title)}</h3>" + key_value_tables(flatten(options))
    return body


def curves(ctx: RunContext) -> str:
    """The PNG ``gancli plot`` makes, embedded."""
    run = ctx.need_run("metrics.jsonl")
    if not (run / "metrics.jsonl").is_file():
        raise GancliError(f"{run} has no metrics.jsonl yet: training writes it every --log-every steps")
    with tempfile.TemporaryDirectory(prefix="gancli-report-") as tmp:
        path, drawn = plot_run(str(run), Path(tmp) / "curves.png")
        data = path.read_bytes()
    what = ", ".join(f"{key} ({n} points)" for key, n in drawn.items())
    return html.figure(html.image(data, "training curves"), f"From {run / 'metrics.jsonl'}: {what}. "
                       f"The same figure as gancli plot {run}.")


def newest_grid(run: Path) -> tuple[int, Path] | None:
    """(step, path) of the newest samples/step-N.png, or None."""
    grids = [(int(m.group(1)), p) for p in (run / "samples").glob("step-*.png") if (m := STEP_GRID.fullmatch(p.name))]
    return max(grids) if grids else None


def shown_file(path: Path, alt: str, caption: str, mime: str | None = None) -> str:
    """An image file embedded with its caption; small ones shown at twice their size. A file that
    cannot be read as an image: GancliError."""
    try:
        with Image.open(path) as img:
            width = img.width
    except OSError as err:  # PIL's UnidentifiedImageError is one too
        raise GancliError(f"cannot read {path} as an image ({err})") from None
    return html.figure(html.image(path, alt, mime, width=2 * width if width <= SMALL_IMAGE else None), caption)


def samples(ctx: RunContext) -> str:
    """The newest progress grid, the real-data grid beside it, and the training GIF."""
    run = ctx.need_run("sample grid")
    shown: list[tuple[Path, str, str, str | None]] = []  # (file, alt text, caption, mime type)
    notes = []
    found = newest_grid(run)
    if found is None:
        notes.append(f"no sample grid yet: training writes {run / 'samples'}/step-N.png every --sample-every steps")
    else:
        step, path = found
        what = "translations (fixed test images)" if ctx.checkpoint.method.two_domain else "fixed z and labels"
        shown.append((path, f"samples at step {step}", f"samples/{path.name}: step {step}, {what}", None))
    real = run / "samples" / "real.png"
    if real.is_file():
        shown.append((real, "real images", "samples/real.png: training images", None))
    gif = run / "progress.gif"
    if gif.is_file():
        shown.append((gif, "training progress", "progress.gif: the grids of the whole run", "image/gif"))
    else:
        notes.append("no progress.gif yet: training writes it when the run finishes (from two or more sample "
                     "grids)")
    figures = []
    for path, alt, caption, mime in shown:
        try:
            figures.append(shown_file(path, alt, caption, mime))
        except GancliError as err:
            notes.append(str(err))
    if not figures:
        raise GancliError("; ".join(notes))
    return f"<div class='row'>{''.join(figures)}</div>" + "".join(html.note(n) for n in notes)


def eval_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, value) rows of an evaluation record, as ``gancli eval`` prints them."""
    rows = [row for metric in present(record) for row in metric.table_rows(record)]
    if any(key.endswith(("_a2b", "_b2a", "_real_a", "_real_b")) for key in record):  # a translation run's record
        # imports torch-fidelity (seconds), which no other part of the page needs: only for a translation run
        from gancli.metrics.translation import translation_rows  # noqa: PLC0415

        rows += translation_rows(record)
    if "fid_chunks_mean" in record:
        rows.append((f"FID, {len(record.get('fid_chunks', []))} chunks of {record.get('chunk_size')}",
                     f"{record['fid_chunks_mean']:.4g} ± {record['fid_chunks_std']:.2g}"))
    if "class_accuracy" in record:
        rows.append(("class accuracy", f"{100 * record['class_accuracy']:.1f}%"))
    return rows


def per_class_table(record: dict[str, Any]) -> str:
    """Per-class FID and / or classifier accuracy of a record, when it has them."""
    per_fid, per_acc = record.get("fid_per_class") or {}, record.get("class_accuracy_per_class") or {}
    if not (per_fid or per_acc):
        return ""
    header = ["class"] + (["FID"] if per_fid else []) + (["accuracy"] if per_acc else [])
    rows = []
    for name in per_fid or per_acc:
        row = [name]
        if per_fid:
            row.append(value_text(per_fid.get(name)))
        if per_acc:
            row.append(f"{100 * per_acc[name]:.1f}%" if name in per_acc else "-")
        rows.append(row)
    return "<h3>Per class</h3>" + html.table(header, rows)


def last_evaluation(ctx: RunContext) -> str:
    """The newest "eval" record of metrics.jsonl: its metrics, protocol and the record itself."""
    run = ctx.need_run("metrics.jsonl with evaluations")
    _, evals = ctx.metrics
    if not evals:
        raise GancliError(f"no evaluation in {run / 'metrics.jsonl'} yet: run gancli eval {run} (it appends one), "
                          "or train with --eval-every N")
    record = evals[-1]
    protocol = (f"{value_text(record.get('n'))} images, features: {value_text(record.get('feature_extractor'))}, "
                f"reference: {value_text(record.get('reference'))}")
    if record.get("reference_n") and f"{record['reference_n']} images" not in str(record.get("reference")):
        protocol += f" ({record['reference_n']} images)"
    protocol += generator_note(record)
    body = html.paragraph(f"Step {record.get('step')}: {format_record(record)}.")
    body += html.table(["metric", "value"], eval_rows(record)) + html.paragraph(protocol)
    body += "".join(html.note(f"Note: {text}.") for text in caveats(record))
    body += per_class_table(record)
    earlier = len(evals) - 1
    more = f"; {earlier} earlier evaluation{'s' if earlier > 1 else ''} in the curves" if earlier else ""
    body += html.details(f"the record in metrics.jsonl{more}", html.pre(json.dumps(record, indent=2)))
    return body


__all__ = ["configuration", "curves", "eval_rows", "flatten", "key_value_tables", "last_evaluation", "newest_grid",
           "overview", "samples", "value_text"]
