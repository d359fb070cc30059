"""``gancli eval``: parse options -> EvalRequest -> gancli.metrics.evaluate.evaluate; a table or JSON."""
from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from gancli.cli.app import DEVICE_HELP, RunTarget, command, completer
from gancli.config import EvalRequest

D = EvalRequest  # the defaults


@command("eval", examples=[
    ("gancli eval c10 --fid --kid -n 10000", "FID and KID of 10,000 samples against the run's training data"),
    ("gancli eval demo --prdc --nn --per-class", "density, coverage, FID per class; nearest training images, memorisation"),
    ("gancli eval c10 --fid --inception-weights ~/weights/pt_inception-2015-12-05.pth", "offline, with a local copy of the Inception weights"),
])
def eval_command(
    target: RunTarget = None,
    fid: Annotated[bool, typer.Option("--fid", help="Frechet distance (the default when no metric is named) [on when no metric is named].")] = False,
    isc: Annotated[bool, typer.Option("--is", help="Inception Score (on the extractor's logits) [off].")] = False,
    kid: Annotated[bool, typer.Option("--kid", help="Kernel Inception Distance (unbiased MMD, 100 subsets) [off].")] = False,
    prc: Annotated[bool, typer.Option("--prc", help="Precision and recall (k-NN manifolds, k = 3) [off].")] = False,
    prdc: Annotated[bool, typer.Option("--prdc", help="Precision, recall, density and coverage (Naeem et al. 2020, k = 5) [off].")] = False,
    nn: Annotated[bool, typer.Option("--nn", help="Nearest training images of 8 samples (a PNG in the run's samples/) and the memorisation statistic: median distance to the nearest training image over that to the nearest held-out one [off].")] = False,
    n: Annotated[int, typer.Option("-n", "--n", help="Generated images.")] = D.n,
    feature_extractor: Annotated[Optional[str], typer.Option(autocompletion=completer("extractors"), help="inception, shapes-factor-net, shapes-net (the class-only features of gancli before 0.2) or shapes-pair-net (a shapes-pair run's translations) [shapes-factor-net for a shapes run, shapes-pair-net for shapes-pair, else inception].")] = None,
    inception_weights: Annotated[Optional[str], typer.Option(help="A local copy of torch-fidelity's Inception weights (no download) [none: torch-fidelity's cache].")] = None,
    ref: Annotated[Optional[str], typer.Option(help="Reference images: a folder, or an .npz of uint8 images [the run's training data].")] = None,
    data: Annotated[Optional[str], typer.Option(help="Reference dataset by name instead of the run's own [the run's].")] = None,
    data_root: Annotated[Optional[str], typer.Option(help="Root of the reference dataset [the run's].")] = None,
    split: Annotated[Optional[str], typer.Option(help="Reference split [the run's: train].")] = None,
    ref_n: Annotated[Optional[int], typer.Option(help="Reference images [the whole split, up to 50,000].")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", help="Also FID within each class [off].")] = False,
    chunks: Annotated[Optional[int], typer.Option(help="Also FID over K disjoint chunks of the samples: mean +- std [none].")] = None,
    truncation: Annotated[Optional[float], typer.Option(help="Truncate z to [-t, t] (by resampling) [off].")] = None,
    seed: Annotated[int, typer.Option(help="Seed of z and labels.")] = D.seed,
    batch_size: Annotated[int, typer.Option(help="Images per G / extractor batch.")] = D.batch_size,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached reference features.")] = D.cache,
    cache_dir: Annotated[Optional[str], typer.Option(help="Reference-feature cache [$GANCLI_CACHE_DIR or ~/.cache/gancli/ref-features].")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", help="Use the EMA weights [yes when the checkpoint has them].")] = None,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (no table) [off: a table].")] = False,
    log: Annotated[bool, typer.Option("--log/--no-log", help="Append the result to the run's metrics.jsonl (the last line says so; gancli plot and info read it).")] = True,
) -> None:
    """Score a generator: FID, IS, KID, precision/recall (torch-fidelity), offline for shapes runs.

    On a CycleGAN run: FID per direction against the target domain's test images, the collapse
    ratio, and on shapes-pair the error against the true translation and the class kept."""
    from gancli.api import evaluate

    chosen = [name for name, asked in (("fid", fid), ("is", isc), ("kid", kid), ("prc", prc), ("prdc", prdc)) if asked]
    result = evaluate(target, chosen, n, feature_extractor=feature_extractor, inception_weights=inception_weights,
                      ref=ref, data=data, data_root=data_root, split=split, ref_n=ref_n, per_class=per_class,
                      chunks=chunks, truncation=truncation, seed=seed, batch_size=batch_size, cache=cache,
                      cache_dir=cache_dir, ema=ema, device=device, nn=nn, log=log)
    if result.unlogged is not None:
        typer.echo(f"warning: could not append the result to {result.unlogged}", err=True)
    if as_json:
        typer.echo(json.dumps(result.record()))
    else:
        print_result(result)
    appended = logged_to(result, log)
    if appended is not None:  # with --json on stderr: stdout stays one JSON object
        also = "".join(f" and to its {name} log" for name in result.mirrored)
        typer.echo(f"appended to {appended}{also} (gancli eval --no-log to skip)", err=as_json)


def logged_to(result, log: bool):
    """The metrics.jsonl ``evaluate`` appended the result to, or None (--no-log, a checkpoint outside
    any run directory, or a file that could not be written)."""
    from pathlib import Path

    from gancli.checkpoint import run_dir_of

    if not log or result.unlogged is not None or result.checkpoint is None:
        return None
    run = run_dir_of(Path(result.checkpoint))
    return run / "metrics.jsonl" if run is not None else None


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    m = result.metrics
    translation = "fid_a2b" in m
    what = "translations per direction" if translation else "generated"
    from gancli.metrics.registry import generator_note, present

    title = (f"step {result.step}: {result.n} {what} vs {result.reference or 'no reference'}; "
             f"features: {result.feature_extractor}{generator_note(result.record())}")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    from gancli.metrics.translation import translation_rows

    rows = [row for metric in present(m) for row in metric.table_rows(m)] + translation_rows(m)
    rows += [(f"FID, {len(m.get('fid_chunks', []))} chunks of {m.get('chunk_size')}",
              f"{m['fid_chunks_mean']:.4g} ± {m['fid_chunks_std']:.2g}" if "fid_chunks_mean" in m else None),
             ("class accuracy", f"{100 * m['class_accuracy']:.1f}%" if "class_accuracy" in m else None)]
    rows += [(f"spread of {factor.replace('_', ' ')} (vs real)", f"{value:.3f}")
             for factor, value in (m.get("factor_spread") or {}).items()]
    if "nn_ratio" in m:
        rows += [("memorisation: d(train) / d(held-out), median", f"{m['nn_ratio']:.3f}"),
                 ("memorisation: nearer a training image", f"{100 * m['nn_train_closer']:.1f}%")]
    for name, value in rows:
        if value is not None:
            table.add_row(name, value)
    console = Console()
    console.print(title)
    console.print(table)
    per_fid, per_acc = m.get("fid_per_class"), m.get("class_accuracy_per_class")
    if per_fid or per_acc:
        classes = Table()
        classes.add_column("class")
        if per_fid:
            classes.add_column("FID", justify="right")
        if per_acc:
            classes.add_column("accuracy", justify="right")
        for name in (per_fid or per_acc):
            row = [name]
            if per_fid:
                row.append(_fmt(per_fid.get(name)))
            if per_acc:
                row.append(f"{100 * per_acc[name]:.1f}%" if name in per_acc else "-")
            classes.add_row(*row)
        console.print(classes)
    if translation:
        for direction, label in (("a2b", "A -> B"), ("b2a", "B -> A")):
            per = m.get(f"class_kept_{direction}_per_class")
            if per:
                console.print(f"class kept {label}: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in per.items()))
    from gancli.metrics.registry import caveats

    for note in caveats(result.record()):
        console.print(f"note: {note}", highlight=False)
    if "nn_note" in m:
        console.print(f"note: memorisation not measured: {m['nn_note']}", highlight=False)
    if "nn_grid" in m:
        console.print(f"nearest training images: {m['nn_grid']}", highlight=False)
    from gancli.viz.units import format_seconds as secs

    s = result.seconds
    cached = " (cached)" if result.reference_cached else ""
    parts = [f"{name} {secs(value)}" for name, value in s.items() if name != "total"]
    if not translation:
        parts = [f"reference features {secs(s.get('reference', 0))}{cached}", f"generated {secs(s.get('generated', 0))}",
                 f"metrics {secs(s.get('metrics', 0))}"]
    console.print(f"[dim]{secs(s.get('total', 0))}: {', '.join(parts)}[/dim]")
