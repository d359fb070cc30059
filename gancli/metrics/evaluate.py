"""``gancli eval``: FID, IS, KID and precision/recall of a generator, computed with torch-fidelity.

Generated images are streamed: G makes a batch, it becomes uint8, the feature extractor reads it,
and only the features are kept (no image files, no image tensor of all n samples). Labels for a
class-conditional G are drawn from the training data's label frequencies (not torch-fidelity's
own conditional path, which is uniform and breaks on NumPy 2). The metric formulas are
torch-fidelity's, applied to those features:

- FID  = |mu_g - mu_r|^2 + tr(S_g + S_r - 2 (S_g S_r)^(1/2))   (Heusel et al. 2017)
- IS   = exp(E_x KL(p(y|x) || p(y)))  over 10 splits, mean and std   (Salimans et al. 2016)
- KID  = unbiased MMD^2 with the kernel (x.y / d + 1)^3, over 100 subsets   (Binkowski et al. 2018)
- precision / recall: k-NN (k = 3) manifold estimates   (Kynkaanniemi et al. 2019)

Extras: FID per class, FID over K disjoint chunks (mean +- std), and for the built-in shapes data
the "conditional accuracy": how often shapes-net recognises the class G was asked for.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from gancli import runlog
from gancli.config import RUNS_ROOT, EvalRequest, dataset_seed
from gancli.data import build_dataset, traits_of
from gancli.data.shapes import SHAPE_CLASSES
from gancli.errors import GancliError
from gancli.loggers.base import append_to_loggers
from gancli.methods import load_run_checkpoint
from gancli.metrics.diversity import memorisation, spread_ratios
from gancli.metrics.extractors import (build_extractor, check_extractor_fits, default_extractor, extractor_key,
                                       extractor_spec)
from gancli.metrics.knn import nearest
from gancli.metrics.reference import (Reference, dataset_key, dataset_reference, folder_reference, npz_reference,
                                      reference_features)
from gancli.metrics.registry import METRICS, check_metrics
from gancli.sampling import (check_prior_truncation, draw_latents, finite_output, labels_like_data, load_generator,
                             seeded_generators)
from gancli.viz.grid import quantize, save_png, tile

NN_ROWS, NN_K = 8, 5  # --nn's grid: the first 8 generated samples, each with its 5 nearest training images
NN_REF_MAX = 20_000  # training and held-out images the memorisation statistic compares, at most

@dataclass
class GeneratedFeatures:
    features: dict[str, torch.Tensor]  # {layer: float32 (n, d)}
    labels: torch.Tensor | None  # the classes G was asked for (int64 (n,)), attributes, or None
    seconds: float
    images: torch.Tensor | None = None  # uint8 (keep, 3, R, R): the first images, when asked for


# ---------------------------------------------------------------------------------------- streams
@torch.no_grad()
def generated_features(G: torch.nn.Module, model_cfg, dataset: dict[str, Any], n: int, extract, layers: list[str],
                       seed: int = 0, truncation: float | None = None, batch_size: int = 100,
                       keep: int = 0) -> GeneratedFeatures:
    """n images from G (in its current mode), batch by batch, straight into ``extract``; the first
    ``keep`` images themselves are kept too (uint8, for ``--nn``'s grid).

    z from the model's prior (N(0, I), truncated to [-t, t] by resampling with ``truncation``; or
    U[-1, 1]) from a generator seeded with ``seed``; class labels by the data's frequencies from a
    second one. Global RNG untouched, so evaluating during training does not change the training run."""
    check_prior_truncation(model_cfg, truncation)
    started = time.time()
    z_gen, label_gen = seeded_generators(seed)
    labels = labels_like_data(model_cfg, dataset, n, label_gen)
    device = next(G.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    kept: list[torch.Tensor] = []
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        z = draw_latents(size, model_cfg, truncation, z_gen).to(device)
        y = None if labels is None else labels[start: start + size].to(device)
        images = quantize(finite_output(G(z, y)))  # the pixels a saved PNG would hold, on G's device
        out = extract(images)
        for layer in layers:
            parts[layer].append(out[layer].float().cpu())
        if start < keep:
            kept.append(images[: keep - start].cpu())
    return GeneratedFeatures({layer: torch.cat(p) for layer, p in parts.items()}, labels, time.time() - started,
                             torch.cat(kept) if kept else None)


def make_extract(extractor, device: torch.device | str):
    """torch-fidelity extractor -> ``extract(uint8 (B, 3, H, W)) -> {layer: (B, d)}``."""

    def extract(images: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return extractor.convert_features_tuple_to_dict(extractor(images.to(device)))

    return extract


# ---------------------------------------------------------------------------------------- metrics
def fid_from_features(a: torch.Tensor, b: torch.Tensor) -> float:
    """torch-fidelity's Frechet distance between the Gaussians fitted to features a and b."""
    stats_a = fid_features_to_statistics(a.double())
    stats_b = fid_features_to_statistics(b.double())
    return float(fid_statistics_to_metric(stats_a, stats_b, verbose=False)["frechet_inception_distance"])


def compute_metrics(metrics: list[str], gen: dict[str, torch.Tensor], ref: dict[str, torch.Tensor] | None,
                    feature_layer: str, logits_layer: str, req: EvalRequest | None = None) -> dict[str, float]:
    """Each named metric of the registry on generated (and reference) features -> record values."""
    req = req or EvalRequest()
    out: dict[str, float] = {}
    for name in metrics:
        out.update(METRICS.get(name).compute(gen, ref, feature_layer, logits_layer, req))
    return out


def chunked_fid(gen: torch.Tensor, ref: torch.Tensor, chunks: int) -> tuple[float, float, list[float]]:
    """FID of each of ``chunks`` disjoint, equal slices of the generated features against all the
    reference features: mean, (population) std, and the values."""
    size = len(gen) // chunks
    values = [fid_from_features(gen[i * size: (i + 1) * size], ref) for i in range(chunks)]
    mean = sum(values) / chunks
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / chunks), values


def per_class_fid(gen: torch.Tensor, gen_labels: torch.Tensor, ref: torch.Tensor, ref_labels: torch.Tensor,
                  names: list[str]) -> dict[str, float | None]:
    """FID between the generated and the real images of each class (None where either side has
    fewer than 2 images of it)."""
    out: dict[str, float | None] = {}
    for k, name in enumerate(names):
        a, b = gen[gen_labels == k], ref[ref_labels == k]
        out[name] = fid_from_features(a, b) if len(a) >= 2 and len(b) >= 2 else None
    return out


def class_accuracy(logits: torch.Tensor, labels: torch.Tensor, names: list[str]) -> tuple[float, dict[str, float]]:
    """Fraction of generated images whose predicted class is the class asked for; and per class."""
    hit = logits.argmax(1) == labels
    per = {name: float(hit[labels == k].float().mean()) for k, name in enumerate(names) if (labels == k).any()}
    return float(hit.float().mean()), per


# ---------------------------------------------------------------------------------------- references
def run_reference(train_config: dict[str, Any], res: int, req: EvalRequest) -> Reference:
    """The reference a request names: --ref PATH, --data NAME, or the run's own training data."""
    if req.ref is not None:
        path = Path(req.ref).expanduser()
        if path.suffix.lower() == ".npz":
            if not path.is_file():
                raise GancliError(f"reference file {path} does not exist")
            return npz_reference(path, res, req.ref_n)
        return folder_reference(path, res, req.ref_n)
    trained_on = train_config.get("dataset")
    name = req.data or trained_on
    if name is None:
        raise GancliError("this checkpoint does not say what it was trained on; give --data NAME or --ref PATH")
    same = name == trained_on
    root = req.data_root or (train_config.get("data_root") if same else None)
    split = req.split or (train_config.get("split", "train") if same else "train")
    same_images = same and split == train_config.get("split", "train")
    size = train_config.get("data_size") if same_images else None
    seed = dataset_seed(train_config) if same else 0
    cond = traits_of(name).class_labels  # class labels for --per-class; CelebA's attributes are not classes
    kwargs = dict(root=root, res=res, split=split, seed=seed, size=size)
    try:
        ds = build_dataset(name, cond=cond, **kwargs)
    except GancliError:
        if not cond:
            raise
        ds = build_dataset(name, cond=False, **kwargs)  # a flat folder
    return dataset_reference(ds, dataset_key(name, root, split, size, seed, res), req.ref_n)


def memorisation_references(train_config: dict[str, Any], res: int) -> tuple[Reference, Reference | None, str]:
    """(the run's training images, as many held-out images of the same data or None, a note).

    Held out: the dataset's ``test`` split (same root and seed) when the run trained on ``train``;
    both sets are cut to the smaller one's size (random subsets), so that nearer-to-train is a
    coin flip for a G that does not copy."""
    name, split = train_config.get("dataset"), train_config.get("split", "train")
    if name is None:
        raise GancliError("--nn: this checkpoint does not say what it was trained on")
    root, seed, size = train_config.get("data_root"), dataset_seed(train_config), train_config.get("data_size")
    kwargs = dict(root=root, res=res, seed=seed)
    train_ds = build_dataset(name, cond=False, split=split, size=size, **kwargs)
    held_ds, note = None, ""
    if split != "train":
        note = f"no held-out split: the run trained on its {split} split"
    else:
        try:
            held_ds = build_dataset(name, cond=False, split="test", size=None, **kwargs)
        except GancliError as err:
            note = f"no held-out split ({str(err).splitlines()[0]})"
    m = min(len(train_ds), len(held_ds)) if held_ds is not None else len(train_ds)
    m = min(m, NN_REF_MAX)
    train = dataset_reference(train_ds, dataset_key(name, root, split, size, seed, res), m)
    held = None if held_ds is None else dataset_reference(held_ds, dataset_key(name, root, "test", None, seed, res), m)
    return train, held, note


# ---------------------------------------------------------------------------------------- evaluate
@dataclass
class EvalResult:
    step: int
    checkpoint: str | None
    n: int
    feature_extractor: str
    reference: str | None
    reference_n: int | None
    reference_cached: bool | None
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    unlogged: Path | None = None  # a metrics.jsonl the record should have gone to but could not
    truncation: float | None = None  # z truncated to [-t, t] (--truncation), None: not truncated
    seed: int = 0  # the seed of the generated z and labels
    ema: bool | None = None  # whether the EMA weights were scored (None: not known to the caller)
    mirrored: list[str] = field(default_factory=list)  # the run's loggers the record also went to
    nn_grid: torch.Tensor | None = field(default=None, repr=False)  # --nn: uint8 (rows, 1 + k, 3, R, R)

    def record(self) -> dict[str, Any]:
        """The JSON line for metrics.jsonl (and ``--json``): the scores and what they were scored on,
        so a truncated or non-EMA evaluation is not read as the plain one."""
        return {"step": self.step, "event": "eval", **self.metrics, "n": self.n,
                "feature_extractor": self.feature_extractor, "reference": self.reference,
                "reference_n": self.reference_n, "truncation": self.truncation, "ema": self.ema,
                "seed": self.seed, "checkpoint": self.checkpoint,
                "seconds": round(self.seconds.get("total", 0.0), 2)}


def evaluate_generator(G, model_cfg, dataset: dict[str, Any], train_config: dict[str, Any], req: EvalRequest,
                       step: int = 0, checkpoint: str | None = None, device: torch.device | str = "cpu",
                       reference: Reference | None = None, extractor=None,
                       ref_features: dict[str, torch.Tensor] | None = None, ema: bool | None = None) -> EvalResult:
    """All the metrics ``req`` asks for, for generator ``G`` (used in its current mode).

    ``ema`` (whether ``G`` holds EMA weights) is only recorded. ``reference``, ``extractor`` and
    ``ref_features`` may be given ready-made (training evaluates
    many times against the same data); otherwise they come from ``req`` and the cache."""
    req.check()
    metrics = check_metrics(req.metrics, req.n)
    started = time.time()
    name = req.feature_extractor or default_extractor(dataset.get("name"))
    spec = extractor_spec(name)
    check_extractor_fits(name, dataset.get("name"), req.data)
    class_names = list(dataset.get("class_names") or [])
    is_class_model = model_cfg.label_kind == "class"
    if req.per_class and not is_class_model:
        raise GancliError("--per-class needs a class-conditional model")
    wants_accuracy = spec.classifies_shapes and is_class_model and tuple(class_names) == SHAPE_CLASSES
    needs_ref = any(METRICS.get(m).needs_reference for m in metrics) or req.per_class or req.chunks is not None
    uses_logits = any(METRICS.get(m).layer == "logits" for m in metrics) or wants_accuracy
    factors = spec.factors_layer if needs_ref else None
    ref_layers = spec.reference_layers if needs_ref else [spec.feature_layer]
    layers = sorted(set(ref_layers) | ({spec.logits_layer} if uses_logits else set()))
    weights = req.inception_weights if name == "inception" else None
    if extractor is None:
        extractor = build_extractor(name, layers, device, weights)  # fails (offline) before any work
    extract = make_extract(extractor, device)

    ref_feats, ref, cached = None, reference, None
    seconds: dict[str, float] = {}
    if needs_ref:
        t0 = time.time()
        if ref is None:
            ref = run_reference(train_config, model_cfg.res, req)
        if ref.resolution != model_cfg.res:
            raise GancliError(f"resolution mismatch: the reference is {ref.resolution}px, the generator {model_cfg.res}px")
        least = max([2] + [METRICS.get(m).min_n for m in metrics if METRICS.get(m).needs_reference])
        if ref.n < least:
            what = next((METRICS.get(m).title for m in metrics if METRICS.get(m).min_n == least), "FID")
            raise GancliError(f"the reference ({ref.description}) has {ref.n} image{'s' if ref.n != 1 else ''}; "
                              f"{what} needs at least {least}")
        if ref_features is not None:
            ref_feats, cached = ref_features, True
        else:
            ref_feats, cached = reference_features(ref, extract, extractor_key(name, weights), ref_layers, req.batch_size,
                                                   use_cache=req.cache,
                                                   root=Path(req.cache_dir) if req.cache_dir else None)
        seconds["reference"] = time.time() - t0
    gen = generated_features(G, model_cfg, dataset, req.n, extract, layers, req.seed, req.truncation, req.batch_size,
                             keep=NN_ROWS if req.nn else 0)
    seconds["generated"] = gen.seconds
    t0 = time.time()
    out: dict[str, Any] = compute_metrics(metrics, gen.features, ref_feats, spec.feature_layer, spec.logits_layer, req)
    if req.chunks is not None:
        mean, std, values = chunked_fid(gen.features[spec.feature_layer], ref_feats[spec.feature_layer], req.chunks)
        out.update(fid_chunks_mean=mean, fid_chunks_std=std, fid_chunks=values, chunk_size=req.n // req.chunks)
    if req.per_class:
        if ref.labels is None:
            raise GancliError(f"--per-class needs class labels on the reference side; {ref.description} has none")
        if ref.class_names and ref.class_names != class_names:
            raise GancliError("--per-class: the reference's classes differ from the model's "
                              f"({', '.join(ref.class_names[:4])} ... vs {', '.join(class_names[:4])} ...)")
        out["fid_per_class"] = per_class_fid(gen.features[spec.feature_layer], gen.labels,
                                             ref_feats[spec.feature_layer], ref.labels, class_names)
    if wants_accuracy:
        out["class_accuracy"], out["class_accuracy_per_class"] = class_accuracy(
            gen.features[spec.logits_layer], gen.labels, class_names)
    if factors and factors in ref_feats:
        out["factor_spread"] = spread_ratios(gen.features[factors], ref_feats[factors])
    seconds["metrics"] = time.time() - t0
    nn_grid = None
    if req.nn:
        t0 = time.time()
        nn_grid = nearest_training_images(gen, train_config, model_cfg.res, extract, extractor_key(name, weights),
                                          spec.feature_layer, req, out)
        seconds["nn"] = time.time() - t0
    seconds["total"] = time.time() - started
    return EvalResult(step, checkpoint, req.n, name, ref.description if ref else None, ref.n if ref else None,
                      cached, out, seconds, truncation=req.truncation, seed=req.seed, ema=ema, nn_grid=nn_grid)


def nearest_training_images(gen: GeneratedFeatures, train_config: dict[str, Any], res: int, extract, extractor: str,
                            layer: str, req: EvalRequest, out: dict[str, Any]) -> torch.Tensor:
    """``--nn``: puts the memorisation statistic (or a note why there is none) into ``out`` and
    returns the grid: uint8 (rows, 1 + NN_K, 3, R, R), each generated sample then its NN_K nearest
    training images, nearest first."""
    train, held, note = memorisation_references(train_config, res)
    cache = dict(use_cache=req.cache, root=Path(req.cache_dir) if req.cache_dir else None)
    train_feats = reference_features(train, extract, extractor, [layer], req.batch_size, **cache)[0][layer]
    if held is not None:
        held_feats = reference_features(held, extract, extractor, [layer], req.batch_size, **cache)[0][layer]
        out.update(memorisation(gen.features[layer], train_feats, held_feats))
        out["nn_reference_n"] = train.n
    else:
        out["nn_note"] = note
    k = min(NN_K, train.n)
    rows = gen.images
    _, idx = nearest(gen.features[layer][: len(rows)], train_feats, k)
    neighbours = train.read(idx.flatten()).reshape(len(rows), k, *rows.shape[1:])
    return torch.cat([rows[:, None], neighbours], dim=1)


def evaluate(target: str | Path | None, req: EvalRequest, device: torch.device | str = "cpu", ema: bool | None = None,
             runs_root: str | Path = RUNS_ROOT, log: bool = True) -> EvalResult:
    """Loads the checkpoint ``target`` resolves to, evaluates it, and (``log``) appends the result
    as one JSON line to its run's metrics.jsonl. A translation run (CycleGAN) is evaluated by
    :func:`gancli.metrics.translation.evaluate_translation`."""
    req.check()
    check_metrics(req.metrics, req.n)
    if req.feature_extractor is not None:
        extractor_spec(req.feature_extractor)
    ckpt = load_run_checkpoint(target, runs_root)
    if ckpt.method.two_domain:  # a translator: FID per direction, ground-truth errors, collapse
        # import cycle: gancli.metrics.translation imports this module at its top
        from gancli.metrics.translation import evaluate_translation  # noqa: PLC0415

        return evaluate_translation(None, req, device=device, ema=ema, log=log, checkpoint=ckpt)
    gen = load_generator(ckpt, ema=ema, device=device, runs_root=runs_root)
    result = evaluate_generator(gen.G, gen.model_config, gen.dataset, gen.checkpoint.train_config, req,
                                step=gen.step, checkpoint=str(gen.path), device=device, ema=gen.ema)
    run = gen.checkpoint.run_dir
    if result.nn_grid is not None:
        result.metrics["nn_grid"] = str(save_nn_grid(result.nn_grid, (run / "samples" if run is not None else
                                                                      Path(gen.path).parent) / f"nn-step-{gen.step}.png"))
    if log and run is not None:
        record = result.record()
        if append_record(run / "metrics.jsonl", record) is None:
            result.unlogged = run / "metrics.jsonl"
        else:  # the run's TensorBoard (--logger) gets it too, so its curves match metrics.jsonl
            result.mirrored = append_to_loggers(list(gen.checkpoint.train_config.get("logger") or []), run, record)
    return result


def save_nn_grid(grid: torch.Tensor, path: Path) -> Path:
    """``--nn``'s grid as a PNG: one row per generated sample (first column), its nearest training
    images to the right, nearest first; a wider gap after the first column."""
    rows, cols = grid.shape[:2]
    array = tile(grid.flatten(0, 1).permute(0, 2, 3, 1).numpy(), cols)
    side = grid.shape[-1]
    gap = np.full((array.shape[0], 4, 3), 255, dtype=np.uint8)
    cut = 2 + side + 2
    array = np.concatenate([array[:, :cut], gap, array[:, cut:]], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(array, path, scale=max(1, 96 // side))


def append_record(path: Path, record: dict[str, Any]) -> Path | None:
    """Appends the record to ``path`` (``gancli.runlog``). Returns the path, or None when the file
    cannot be written (the result is still printed: a read-only run directory must not cost the
    evaluation)."""
    try:
        runlog.append_record(path, record)
        return path
    except OSError:
        return None


__all__ = ["EvalRequest", "EvalResult", "evaluate", "evaluate_generator", "generated_features", "compute_metrics",
           "chunked_fid", "per_class_fid", "class_accuracy", "fid_from_features", "run_reference"]
