"""A study's results: one row per setting (variant, or variant / hparams), mean ± std over seeds.

Read from the run directories alone (config.json, metrics.jsonl, checkpoints), so ``--collect``
works on runs trained elsewhere (a cluster, from ``--print-commands``). Per run: the best FID over
its evaluations and the step of it, and the final FID, IS, KID and class accuracy (the last
evaluation), the wall time (the last record's) and the mean img/s. Per setting: each as mean ± std
over the seeds (the sample standard deviation, n − 1; 0 with one seed) with n. A "real data" row
scores real images of the data's test split against the same reference (the floor a generator
cannot beat). Files: table.md, results.csv, results.json, curves.png, samples.png, report.html.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gancli import runlog
from gancli.checkpoint import atomic_write_bytes
from gancli.config import EvalRequest, TrainConfig
from gancli.data import build_dataset, run_dataset, traits_of
from gancli.errors import GancliError
from gancli.metrics.evaluate import compute_metrics, make_extract
from gancli.metrics.extractors import build_extractor, default_extractor, extractor_key, extractor_spec
from gancli.metrics.reference import dataset_key, dataset_reference, reference_features
from gancli.models import draw_z
from gancli.sampling import finite_output, labels_like_data, load_generator, seeded_generators
from gancli.study.spec import parse_run_name
from gancli.viz import html
from gancli.viz.grid import display_scale, grid_array, save_png, upscale
from gancli.viz.labels import Cells, annotate

#: table columns: (key, title, lower is better, shown as percent)
COLUMNS = (("best_fid", "best FID", True, False), ("final_fid", "final FID", True, False),
           ("final_is", "IS", False, False), ("final_kid", "KID", True, False),
           ("final_accuracy", "class acc.", False, True), ("best_step", "best step", None, False),
           ("wall_min", "wall (min)", None, False), ("img_s", "img/s", None, False))
#: a method's own statistic drawn in curves.png, where runs log it
METHOD_CURVES = {"m_global": "BEGAN M_global", "pt": "EBGAN pulling-away term"}


@dataclass
class RunResult:
    name: str
    variant: str
    hparams: str | None
    seed: int
    path: Path
    config: dict[str, Any]
    evals: list[dict[str, Any]]  # eval records by step
    values: dict[str, float]  # best_fid, best_step, final_fid, final_is, final_kid, final_accuracy, wall_min, img_s
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # method statistics by step
    step: int = 0  # the last step it logged
    steps: int = 0  # the steps it was asked for

    @property
    def finished(self) -> bool:
        return self.step >= self.steps

    @property
    def setting(self) -> str:
        return self.variant if self.hparams is None else f"{self.variant} / {self.hparams}"


@dataclass
class Row:
    setting: str
    n: int
    stats: dict[str, tuple[float, float]]  # key -> (mean, std)
    planned: int = 0  # runs the study planned for this setting (study.json); 0: not known


@dataclass
class StudyResults:
    folder: Path
    runs: list[RunResult]
    rows: list[Row]
    real: dict[str, float] | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # a planned run left out of the table -> why


def planned_runs(folder: Path) -> list[str]:
    """The run names the study's study.json plans (``gancli compare`` writes it), or [] when the
    folder has none or it cannot be read (``--collect`` of run directories made elsewhere)."""
    try:
        names = json.loads((folder / "study.json").read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return []
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def read_run(path: Path) -> RunResult | None:
    """One finished or partial run directory -> its values; None when it has no evaluation yet."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not (path / "metrics.jsonl").is_file():
        return None
    records = runlog.read_records(path / "metrics.jsonl")
    evals = sorted((r for r in records if r.get("event") == "eval" and runlog.number(r, "fid") is not None),
                   key=lambda r: r["step"])
    if not evals or not isinstance(config, dict):
        return None
    train = config.get("train", {})
    if not isinstance(train, dict):
        return None
    parsed = parse_run_name(path.name)
    variant, hparams, seed = parsed if parsed else (path.name, train.get("hparams"), train.get("seed") if isinstance(train.get("seed"), int) else 0)
    best = min(evals, key=lambda r: r["fid"])
    final = evals[-1]
    steps_logged = [r for r in records if runlog.number(r, "img_s") is not None and r.get("event") is None]
    seconds = runlog.training_seconds(records)
    values = {"best_fid": best["fid"], "best_step": float(best["step"]), "final_fid": final["fid"],
              "wall_min": seconds / 60 if seconds is not None else math.nan,
              "img_s": (sum(r["img_s"] for r in steps_logged) / len(steps_logged)) if steps_logged else math.nan}
    for key, source in (("final_is", "is_mean"), ("final_kid", "kid_mean"), ("final_accuracy", "class_accuracy")):
        if runlog.number(final, source) is not None:
            values[key] = final[source]
    curves = {key: [(r["step"], r[key]) for r in steps_logged if runlog.number(r, key) is not None]
              for key in METHOD_CURVES}
    last_step = max([r["step"] for r in records] or [0])
    steps = train.get("steps", 0)
    return RunResult(path.name, variant, hparams, seed, path, config, evals, values,
                     {k: v for k, v in curves.items() if v}, last_step,
                     steps if isinstance(steps, int) and not isinstance(steps, bool) else 0)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def aggregate(runs: list[RunResult]) -> list[Row]:
    """One row per setting, sorted by mean best FID."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(run.setting, []).append(run)
    rows = []
    for setting, members in groups.items():
        stats = {}
        for key, *_ in COLUMNS:
            values = [m.values[key] for m in members if key in m.values and not math.isnan(m.values[key])]
            if values:
                stats[key] = mean_std(values)
        rows.append(Row(setting, len(members), stats))
    return sorted(rows, key=lambda r: r.stats["best_fid"][0])


def _count_planned(results: StudyResults, planned: list[str]) -> None:
    """Each row's planned run count, and a row for a planned setting with no finished run."""
    by_setting: dict[str, int] = {}
    for name in planned:
        parsed = parse_run_name(name)
        if parsed is not None:
            variant, hparams, _ = parsed
            setting = variant if hparams is None else f"{variant} / {hparams}"
            by_setting[setting] = by_setting.get(setting, 0) + 1
    for row in results.rows:
        row.planned = by_setting.get(row.setting, 0)
    present = {row.setting for row in results.rows}
    results.rows += [Row(setting, 0, {}, count) for setting, count in by_setting.items() if setting not in present]


def collect(folder: str | Path, real_row: bool = True) -> StudyResults:
    """Every run directory under ``folder/runs`` (or directly under ``folder``) with at least one
    evaluation -> the study's rows."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GancliError(f"{folder} is not a study folder (no such directory)")
    base = folder / "runs" if (folder / "runs").is_dir() else folder
    candidates = sorted(p for p in base.iterdir() if p.is_dir() and (p / "config.json").is_file())
    found = [r for r in (read_run(p) for p in candidates) if r is not None]
    runs = [r for r in found if r.finished]
    unfinished = [r for r in found if not r.finished]
    planned = planned_runs(folder)
    missing = {r.name: f"stopped at step {r.step} of {r.steps}" for r in unfinished}
    missing.update({p.name: "no evaluation" for p in candidates if p.name not in {r.name for r in found}})
    missing.update({name: "never started" for name in planned if not (base / name / "config.json").is_file()})
    if not runs:
        left = f" (planned and not finished: {', '.join(f'{k} ({v})' for k, v in missing.items())})" if missing else ""
        raise GancliError(f"{folder} holds no finished run with an evaluation yet (looked for */config.json "
                          f"and eval records in */metrics.jsonl){left}")
    results = StudyResults(folder, runs, aggregate(runs), missing=missing)
    _count_planned(results, planned)
    if unfinished:
        results.notes.append("still training or stopped, left out: " + ", ".join(
            f"{r.name} (step {r.step} of {r.steps})" for r in unfinished))
    never = [name for name, why in missing.items() if why == "never started"]
    if never:
        results.notes.append(f"planned but never started, left out: {', '.join(never)}")
    early = [r for r in runs if r.evals[-1]["step"] < r.step]
    if early:
        results.notes.append("final figures from an earlier step (the last evaluation is missing; rerun the study "
                             "to redo it): " + ", ".join(f"{r.name} (step {r.evals[-1]['step']} of {r.step})"
                                                         for r in early))
    missing = [p.name for p in candidates if p.name not in {r.name for r in found}]
    if missing:
        results.notes.append(f"not evaluated yet, left out: {', '.join(missing)}")
    first = runs[0].evals[-1]
    results.protocol = {"feature_extractor": first.get("feature_extractor"), "n": first.get("n"),
                        "reference": first.get("reference"), "reference_n": first.get("reference_n")}
    mixed = {(r.evals[-1].get("feature_extractor"), r.evals[-1].get("n"), r.evals[-1].get("reference")) for r in runs}
    if len(mixed) > 1:
        results.notes.append("the runs were evaluated under different protocols (extractor, n or reference): "
                             "their numbers are not comparable")
    if real_row:
        try:
            results.real = real_data_row(runs[0])
        except GancliError as err:
            results.notes.append(f"no real-data row: {err}")
    return results


def real_data_row(run: RunResult) -> dict[str, float]:
    """FID / IS / KID of real test-split images (as many as the runs' evaluations) against the
    runs' reference, with the same extractor: what a perfect generator would score."""
    cfg = TrainConfig.from_dict(run.config["train"])
    record = run.evals[-1]
    n = int(record.get("n") or cfg.eval_n)
    spec = extractor_spec(record.get("feature_extractor") or default_extractor(cfg.dataset))
    weights = cfg.inception_weights if spec.name == "inception" else None
    extractor = build_extractor(spec.name, spec.layers, "cpu", weights)
    extract = make_extract(extractor, "cpu")
    res = int(run.config["model"]["res"])
    train_ds = build_dataset(cfg.dataset, root=cfg.data_root, res=res, split=cfg.split, seed=cfg.dataset_seed,
                             size=cfg.data_size)
    key = dataset_key(cfg.dataset, cfg.data_root, cfg.split, cfg.data_size, cfg.dataset_seed, res)
    ref, _ = reference_features(dataset_reference(train_ds, key), extract, extractor_key(spec.name, weights),
                                [spec.feature_layer])
    try:
        test = build_dataset(cfg.dataset, root=cfg.data_root, res=res, split="test", seed=cfg.dataset_seed,
                             cond=traits_of(cfg.dataset).shapes_scenes)
    except GancliError:
        test = train_ds  # a folder has no test split: another draw of the same images
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(1))[:n]
    parts: dict[str, list] = {spec.feature_layer: [], spec.logits_layer: []}
    for start in range(0, len(pick), 200):
        out = extract(test.get_uint8_batch(pick[start: start + 200])[0])
        for layer in parts:
            parts[layer].append(out[layer].float().cpu())
    real = {layer: torch.cat(p) for layer, p in parts.items()}
    req = EvalRequest(metrics=["fid", "is", "kid"], n=len(pick))
    values = compute_metrics(["fid", "is", "kid"], real, ref, spec.feature_layer, spec.logits_layer, req)
    row = {"best_fid": values["fid"], "final_fid": values["fid"], "final_is": values["is_mean"],
           "final_kid": values["kid_mean"]}
    if spec.classifies_shapes and traits_of(cfg.dataset).shapes_scenes:
        logits = real[spec.logits_layer]
        row["final_accuracy"] = float((logits.argmax(1) == test.labels[pick]).float().mean())
    return row


# ------------------------------------------------------------------------------------------ files
def _fmt(key: str, value: float, std: float | None = None, percent: bool = False) -> str:
    if math.isnan(value):
        return "-"
    if key == "best_step":
        text = f"{value:.0f}"
        return text if std is None else f"{text} ± {std:.0f}"
    scale = 100 if percent else 1
    digits = ".1f" if percent or key in ("img_s", "wall_min") else (".4f" if key == "final_kid" else ".2f")
    text = f"{scale * value:{digits}}"
    if std is not None:
        text += f" ± {scale * std:{digits}}"
    return text + ("%" if percent else "")


def _best(rows: list[Row], key: str, lower: bool | None) -> str | None:
    if lower is None:
        return None
    present = [r for r in rows if key in r.stats]
    if not present:
        return None
    return (min if lower else max)(present, key=lambda r: r.stats[key][0]).setting


def table_rows(results: StudyResults) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table as text: best value of each column marked with *."""
    header = ["setting", "n"] + [title for _, title, _, _ in COLUMNS]
    best = {key: _best(results.rows, key, lower) for key, _, lower, _ in COLUMNS}
    rows = []
    for row in results.rows:
        cells = [row.setting, f"{row.n} of {row.planned}" if row.planned > row.n else str(row.n)]
        for key, _, _, percent in COLUMNS:
            if key not in row.stats:
                cells.append("-")
                continue
            mean, std = row.stats[key]
            cell = _fmt(key, mean, std if row.n > 1 else None, percent)
            cells.append(f"**{cell}**" if best[key] == row.setting and len(results.rows) > 1 else cell)
        rows.append(cells)
    if results.real:
        cells = ["real data (floor)", "-"]
        for key, _, _, percent in COLUMNS:
            cells.append(_fmt(key, results.real[key], None, percent) if key in results.real else "-")
        rows.append(cells)
    return header, rows


def markdown_table(results: StudyResults) -> str:
    header, rows = table_rows(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    p = results.protocol
    lines += ["", f"mean ± std over seeds (n); best of each column in bold; sorted by best FID. Features: "
                  f"{p.get('feature_extractor')}, {p.get('n')} generated images per evaluation against "
                  f"{p.get('reference')} ({p.get('reference_n')} images)."]
    lines += [f"Note: {note}" for note in results.notes]
    return "\n".join(lines) + "\n"


def results_json(results: StudyResults) -> dict[str, Any]:
    return {"protocol": results.protocol, "notes": results.notes, "real": results.real, "missing": results.missing,
            "rows": [{"setting": r.setting, "n": r.n, "planned": r.planned,
                      **{k: {"mean": m, "std": s} for k, (m, s) in r.stats.items()}} for r in results.rows],
            "runs": [{"name": r.name, "setting": r.setting, "variant": r.variant, "hparams": r.hparams, "seed": r.seed,
                      **r.values, "evals": [{k: e[k] for k in ("step", "fid", "is_mean", "kid_mean", "class_accuracy")
                                             if k in e} for e in r.evals]} for r in results.runs]}


def write_csv(results: StudyResults, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = [key for key, *_ in COLUMNS]
    writer.writerow(["setting", "n"] + [f"{k}_{part}" for k in keys for part in ("mean", "std")])
    for row in results.rows:
        writer.writerow([row.setting, row.n] + [f"{row.stats[k][i]:.6g}" if k in row.stats else ""
                                                for k in keys for i in (0, 1)])
    if results.real:
        writer.writerow(["real data (floor)", ""] + [f"{results.real[k]:.6g}" if (k in results.real and i == 0) else ""
                                                     for k in keys for i in (0, 1)])
    _atomic_text(path, buffer.getvalue())


def _atomic_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def curves_figure(results: StudyResults, path: Path) -> Path:
    """FID and IS against the step (and a method's own statistic where runs log one): one line per
    setting, the mean over seeds, with a band from the lowest to the highest seed."""
    # matplotlib (over a second to import) only where a figure is drawn, as in gancli.viz.curves
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    panels = [("fid", "FID (lower is better)"), ("is_mean", "IS")]
    method_keys = [k for k in METHOD_CURVES if any(k in r.curves for r in results.runs)]
    fig, axes = plt.subplots(1, len(panels) + len(method_keys), figsize=(5 * (len(panels) + len(method_keys)), 3.8),
                             squeeze=False)
    groups: dict[str, list[RunResult]] = {}
    for run in results.runs:
        groups.setdefault(run.setting, []).append(run)
    for ax, (key, title) in zip(axes[0], panels + [(k, METHOD_CURVES[k]) for k in method_keys]):
        for setting, members in groups.items():
            series = [dict((e["step"], e[key]) for e in m.evals if key in e) if key in ("fid", "is_mean")
                      else dict(m.curves.get(key, [])) for m in members]
            steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
            if not steps:
                continue
            values = [[s[step] for s in series] for step in steps]
            mean = [sum(v) / len(v) for v in values]
            line, = ax.plot(steps, mean, label=f"{setting} (n={len(members)})")
            if len(members) > 1:
                ax.fill_between(steps, [min(v) for v in values], [max(v) for v in values], color=line.get_color(),
                                alpha=0.2, linewidth=0)
        if key == "fid" and results.real:
            ax.axhline(results.real["best_fid"], color="black", linestyle=":", label="real data")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, lambda f: f.write(buffer.getvalue()))
    return path


def samples_sheet(results: StudyResults, path: Path, per_row: int = 8, labels: bool = True) -> tuple[Path, list[str]]:
    """One row of samples per setting (its first seed's last checkpoint, EMA weights where saved),
    from the same z where the z sizes match (and the same classes where the models are conditional),
    and a row of real images; with ``labels`` each row's name in the left margin (and the class of
    each column on top, for class-conditional models)."""
    rows, seen, names = [], set(), []
    res = None
    class_columns, class_names = False, []
    for run in sorted(results.runs, key=lambda r: (r.setting, r.seed)):
        if run.setting in seen:
            continue
        seen.add(run.setting)
        gen = load_generator(run.path)
        z_gen, label_gen = seeded_generators(0)  # the same seeds in every row: the same z per z size
        z = draw_z(per_row, gen.model_config, generator=z_gen)
        y = labels_like_data(gen.model_config, gen.dataset, per_row, label_gen)
        if gen.model_config.label_kind == "class":
            y = torch.arange(per_row) % gen.model_config.n_classes
            class_columns, class_names = True, gen.class_names
        with torch.no_grad():
            images = finite_output(gen.G(z, y)).float()
        if res is not None and images.shape[-1] != res:
            images = torch.nn.functional.interpolate(images, size=(res, res), mode="bilinear")
        res = images.shape[-1]
        rows.append(images)
        names.append(run.setting)
    if not rows:
        raise GancliError("no run to draw samples from")
    try:  # real images: one per class in the columns' class order when the models are class-conditional
        data = run_dataset(results.runs[0].config["train"], res, cond=class_columns)
        if class_columns and data.label_kind == "class":
            picks = [int((data.labels == k % data.n_classes).nonzero()[0]) for k in range(per_row)]
        else:
            picks = list(range(per_row))
        rows.append(data.get_batch(torch.tensor(picks))[0])
        names.append("real data")
    except GancliError:
        pass
    scale = display_scale(res)
    grid = upscale(grid_array(torch.cat(rows), per_row), scale)
    if labels:
        columns = [class_names[k % len(class_names)] for k in range(per_row)] if class_columns else None
        grid = annotate(grid, Cells(len(rows), per_row, res * scale, res * scale, 2 * scale), rows=names,
                        columns=columns)
    return save_png(grid, path), names


def html_report(results: StudyResults, images: dict[str, Path]) -> str:
    """One self-contained page: the table, the figures (embedded as data: URIs), each run's config."""
    header, rows = table_rows(results)

    def cell(text: str) -> str:  # the best value of a column is marked **x** in the text table
        return html.Raw(f"<b>{html.esc(text.strip('*'))}</b>") if text.startswith("**") else text.strip("*")

    table = html.table(header, ([cell(c) for c in cells] for cells in rows))
    figures = "".join(html.section(title, html.image(image, title)) for title, image in images.items())
    configs = "".join(html.details(r.name, html.pre(json.dumps(r.config.get("train", {}), indent=2)))
                      for r in results.runs)
    notes = "".join(html.note(n) for n in results.notes)
    p = results.protocol
    protocol = (f"Mean ± std over seeds (n); best of each column in bold; sorted by best FID. Features: "
                f"{p.get('feature_extractor')}, {p.get('n')} generated images per evaluation against "
                f"{p.get('reference')} ({p.get('reference_n')} images).")
    body = f"{table}{html.paragraph(protocol)}{notes}{figures}{html.section('Runs', configs)}"
    return html.page(f"gancli study {results.folder.name}", f"gancli study: {results.folder}", body)


def write_report(results: StudyResults, folder: str | Path | None = None, labels: bool = True) -> dict[str, Path]:
    """All the study's files into ``folder`` (default: the study folder); their paths by name.
    ``labels``: samples.png names its rows (and columns) in a margin."""
    folder = Path(folder or results.folder)
    files = {"table": folder / "table.md", "csv": folder / "results.csv", "json": folder / "results.json",
             "curves": folder / "curves.png", "samples": folder / "samples.png", "html": folder / "report.html"}
    try:
        _atomic_text(files["table"], markdown_table(results))
        write_csv(results, files["csv"])
        _atomic_text(files["json"], json.dumps(results_json(results), indent=2) + "\n")
        curves_figure(results, files["curves"])
        images = {"FID and IS against the step": files["curves"]}
        try:
            _, names = samples_sheet(results, files["samples"], labels=labels)
            images[f"Samples, one row each (same z): {', '.join(names)}"] = files["samples"]
        except GancliError as err:
            results.notes.append(f"no sample sheet: {err}")
            files.pop("samples")
        _atomic_text(files["html"], html_report(results, images))
    except OSError as err:
        raise GancliError(f"cannot write the report into {folder}: {err.strerror or err}") from None
    return files


__all__ = ["COLUMNS", "Row", "RunResult", "StudyResults", "aggregate", "collect", "markdown_table", "mean_std",
           "read_run", "real_data_row", "results_json", "table_rows", "write_report"]
