"""The metrics of ``gancli eval`` by name: one vocabulary for the CLI, the record and the plots.

Each metric says what it is called (``fid``, ``is``, ``kid``, ``prc``, ``prdc``: the names of ``--eval-metrics``
and of ``EvalRequest.metrics``), the keys it writes into the metrics.jsonl record, whether it needs
reference features, the smallest sample it accepts, how to compute it from features (torch-fidelity's
formulas) and how to show it. A new metric is one ``register_metric`` call here (plus, if it
should have one, its ``--flag`` on ``gancli eval``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from gancli.errors import GancliError
from gancli.registry import Registry
from gancli.viz.curves import CurveTraits


@dataclass(frozen=True)
class Metric:
    name: str  # the option name: --eval-metrics fid,is,...
    title: str  # how tables and plots call it
    keys: tuple[str, ...]  # what it writes into the record
    needs_reference: bool  # compares with the reference features (else: generated features alone)
    layer: str  # "features" or "logits": the extractor output it reads
    min_n: int  # fewest generated images it accepts
    compute: Callable[..., dict[str, Any]]  # (gen, ref, feature_layer, logits_layer, req) -> {key: value}
    show: Callable[[dict[str, Any]], str]  # one short value for a line, from a record holding its keys
    #: plot series: (record key, label); one panel per metric
    series: tuple[tuple[str, str], ...] = ()
    why_min_n: str = ""  # why min_n, for the error message
    #: table rows (label, value) from a record; None: one row (title, show(record))
    rows: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None
    self_labelled: bool = False  # show() names its values ("precision 0.81, recall 0.62"): no title before it
    #: plot traits: keys drawn on a log axis; keys with a fixed range (gancli plot, gancli.viz.curves)
    log_scale: tuple[str, ...] = ()
    bounds: tuple[tuple[str, tuple[float, float]], ...] = ()

    def table_rows(self, record: dict[str, Any]) -> list[tuple[str, str]]:
        return self.rows(record) if self.rows else [(self.title, self.show(record))]


METRICS: Registry[Metric] = Registry("metric")
IS_SPLITS = 10
PRC_K = 3
PRDC_K = 5  # Naeem et al.'s default


def register_metric(metric: Metric) -> Metric:
    return METRICS.register(metric.name)(metric)


def _fid(gen, ref, feature_layer, logits_layer, req) -> dict[str, Any]:
    from gancli.metrics.evaluate import fid_from_features

    return {"fid": fid_from_features(gen[feature_layer], ref[feature_layer])}


def _is(gen, ref, feature_layer, logits_layer, req) -> dict[str, Any]:
    from torch_fidelity.metric_isc import isc_features_to_metric

    isc = isc_features_to_metric(gen[logits_layer], splits=IS_SPLITS, shuffle=True, rng_seed=2020 + req.seed)
    return {"is_mean": isc["inception_score_mean"], "is_std": isc["inception_score_std"]}


def _kid(gen, ref, feature_layer, logits_layer, req) -> dict[str, Any]:
    from torch_fidelity.metric_kid import kid_features_to_metric

    size = min(req.kid_subset_size, len(gen[feature_layer]), len(ref[feature_layer]))
    kid = kid_features_to_metric(gen[feature_layer], ref[feature_layer], kid_subsets=req.kid_subsets,
                                 kid_subset_size=size, kid_kernel="poly", kid_kernel_poly_degree=3,
                                 kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1, rng_seed=2020 + req.seed,
                                 verbose=False)
    return {"kid_mean": kid["kernel_inception_distance_mean"], "kid_std": kid["kernel_inception_distance_std"],
            "kid_subset_size": size}


def _prc(gen, ref, feature_layer, logits_layer, req) -> dict[str, Any]:
    from torch_fidelity.metric_prc import prc_features_to_metric

    # save_cpu_ram: distances in blocks; the full 50,000^2 reference matrix would take 10 GB
    prc = prc_features_to_metric(gen[feature_layer], ref[feature_layer], prc_neighborhood=PRC_K,
                                 prc_batch_size=10_000, save_cpu_ram=True, verbose=False)
    return {"precision": prc["precision"], "recall": prc["recall"], "f_score": prc["f_score"]}


def _prdc(gen, ref, feature_layer, logits_layer, req) -> dict[str, Any]:
    from gancli.metrics.knn import prdc

    out = prdc(ref[feature_layer], gen[feature_layer], k=PRDC_K)
    return {"prdc_precision": out["precision"], "prdc_recall": out["recall"], "density": out["density"],
            "coverage": out["coverage"], "prdc_k": PRDC_K}


register_metric(Metric("fid", "FID", ("fid",), True, "features", 2, _fid,
                       lambda r: f"{r['fid']:.4g}", (("fid", "FID"),), log_scale=("fid",)))
register_metric(Metric("is", "IS", ("is_mean", "is_std"), False, "logits", IS_SPLITS, _is,
                       lambda r: f"{r['is_mean']:.4g} ± {r['is_std']:.2g}", (("is_mean", "IS"),),
                       why_min_n=f"it averages over {IS_SPLITS} splits"))
register_metric(Metric("kid", "KID", ("kid_mean", "kid_std", "kid_subset_size"), True, "features", 2, _kid,
                       lambda r: f"{r['kid_mean']:.4g} ± {r['kid_std']:.2g}", (("kid_mean", "KID"),),
                       log_scale=("kid_mean",)))
register_metric(Metric("prc", "precision / recall", ("precision", "recall", "f_score"), True, "features",
                       PRC_K + 1, _prc, lambda r: f"precision {r['precision']:.3f}, recall {r['recall']:.3f}",
                       (("precision", "precision"), ("recall", "recall")),
                       why_min_n=f"k-nearest neighbours with k = {PRC_K}",
                       rows=lambda r: [("precision", f"{r['precision']:.4g}"), ("recall", f"{r['recall']:.4g}")],
                       self_labelled=True, bounds=(("precision", (0.0, 1.0)), ("recall", (0.0, 1.0)))))
register_metric(Metric("prdc", "precision / recall / density / coverage",
                       ("prdc_precision", "prdc_recall", "density", "coverage", "prdc_k"), True, "features",
                       PRDC_K + 1, _prdc,
                       lambda r: f"density {r['density']:.3f}, coverage {r['coverage']:.3f}",
                       (("prdc_precision", "precision"), ("prdc_recall", "recall"), ("density", "density"),
                        ("coverage", "coverage")),
                       why_min_n=f"k-nearest neighbours with k = {PRDC_K}",
                       rows=lambda r: [(f"precision (k = {r.get('prdc_k', PRDC_K)})", f"{r['prdc_precision']:.4g}"),
                                       (f"recall (k = {r.get('prdc_k', PRDC_K)})", f"{r['prdc_recall']:.4g}"),
                                       ("density", f"{r['density']:.4g}"), ("coverage", f"{r['coverage']:.4g}")],
                       self_labelled=True))


#: recorded beside the metrics by a feature extractor that classifies (shapes-net, shapes-factor-net)
CLASS_ACCURACY_KEY = "class_accuracy"


def eval_panels() -> dict[str, tuple[tuple[str, str], ...]]:
    """``gancli plot``'s evaluation panels: one per metric (its series), and the class accuracy."""
    panels = {metric.title: metric.series for metric in (METRICS.get(name) for name in METRICS.names())}
    panels["class accuracy"] = ((CLASS_ACCURACY_KEY, "class accuracy"),)
    return panels


def curve_traits() -> CurveTraits:
    """How ``gancli plot`` draws the evaluation keys, as the metrics say: log axes, fixed ranges,
    which do not depend on the reference (a metric that needs none), the class accuracy in percent."""
    metrics = [METRICS.get(name) for name in METRICS.names()]
    return CurveTraits(
        log_scale=frozenset(key for m in metrics for key in m.log_scale),
        percent=frozenset({CLASS_ACCURACY_KEY}),
        bounds={**{key: bounds for m in metrics for key, bounds in m.bounds}, CLASS_ACCURACY_KEY: (0.0, 100.0)},
        reference_free=frozenset({*(key for m in metrics if not m.needs_reference for key, _ in m.series),
                                  CLASS_ACCURACY_KEY}))


def check_metrics(names: list[str], n: int, flag: str = "-n") -> list[str]:
    """Known names with enough images (``flag``: how the count was given); returns them in the
    registry's order (FID when empty)."""
    for name in names:
        metric = METRICS.get(name)
        if n < metric.min_n:
            why = f" ({metric.why_min_n})" if metric.why_min_n else ""
            raise GancliError(f"--{name} needs {flag} of at least {metric.min_n}{why}, got {n}")
    return [m for m in METRICS.names() if m in names] or ["fid"]


def present(record: dict[str, Any]) -> list[Metric]:
    """The metrics whose values a record holds."""
    return [METRICS.get(m) for m in METRICS.names() if METRICS.get(m).keys[0] in record]


#: feature extractors with a small feature space (name -> dimension): k-NN manifolds there are coarse
SMALL_FEATURE_SPACES = {"shapes-net": 64, "shapes-pair-net": 64}


def caveats(record: dict[str, Any]) -> list[str]:
    """Short notes a printed table of this record should carry (never written into the record)."""
    notes = []
    dim = SMALL_FEATURE_SPACES.get(record.get("feature_extractor"))
    if dim and "precision" in record:
        notes.append(f"precision / recall on {record['feature_extractor']}'s {dim}-d features are coarse "
                     f"(k-NN manifolds, k = {PRC_K}, in a small feature space)")
    return notes


def format_record(record: dict[str, Any]) -> str:
    """``FID 7.47, IS 3.1, KID 0.012, precision 0.81, recall 0.62, class accuracy 95.7%``."""
    parts = [m.show(record) if m.self_labelled else f"{m.title} {m.show(record)}" for m in present(record)]
    if "class_accuracy" in record:
        parts.append(f"class accuracy {100 * record['class_accuracy']:.1f}%")
    for direction, label in (("a2b", "A->B"), ("b2a", "B->A")):  # a translation run's record (CycleGAN)
        if f"fid_{direction}" in record:
            kept = record.get(f"class_kept_{direction}")
            parts.append(f"{label} FID {record[f'fid_{direction}']:.4g}"
                         + (f", class kept {100 * kept:.1f}%" if kept is not None else ""))
    return ", ".join(parts)


def generator_note(record: dict[str, Any]) -> str:
    """What an evaluation record scored when it is not the usual G_ema on untruncated z, else "":
    ``"; G without EMA, z truncated to ±0.5"`` (records of older gancli have neither field)."""
    parts = ["G without EMA"] if record.get("ema") is False else []
    if record.get("truncation") is not None:
        parts.append(f"z truncated to ±{record['truncation']:g}")
    return "; " + ", ".join(parts) if parts else ""


__all__ = ["METRICS", "Metric", "register_metric", "check_metrics", "present", "format_record", "caveats", "generator_note",
           "SMALL_FEATURE_SPACES"]
