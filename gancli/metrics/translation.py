"""``gancli eval`` on a translation run (``--method cyclegan``): how good each direction is.

For each direction (a2b: G_AB on test A against test B; b2a: G_BA on test B against test A):

- ``fid_a2b`` / ``fid_b2a``: Frechet distance between the features of n translated test images and
  of n real test images of the target domain (the reference's way of scoring CycleGAN without
  pairs); features of shapes-pair-net on shapes-pair (offline), Inception elsewhere.
- ``collapse_a2b`` / ``collapse_b2a``: the collapse ratio (:mod:`gancli.methods.collapse`) of
  the translations over their inputs; near or above 1 is healthy, below COLLAPSE_RATIO collapsed.

On data with a known translation (the built-in shapes-pair), for the first n test scenes rendered in
both styles (the ground truth, never seen in training):

- ``l1_a2b``, ``psnr_a2b`` (and b2a): mean absolute error, in [0, 1] pixel units, and the mean
  per-image PSNR (dB, peak 1) of G_AB(a) against the true b (and G_BA(b) against a);
- ``class_kept_a2b`` (and b2a): how often shapes-pair-net finds the input's shape class in the
  translation (and ``class_kept_a2b_per_class``: per class, which shows a swap of two classes);
  ``class_real_a`` / ``class_real_b``: its accuracy on the true images (the ceiling).
"""
from __future__ import annotations


import time
from pathlib import Path
from typing import Any

import torch

from gancli.config import RUNS_ROOT, EvalRequest
from gancli.errors import GancliError
from gancli.methods.collapse import collapse_ratio
from gancli.metrics.evaluate import EvalResult, append_record, fid_from_features, make_extract
from gancli.metrics.extractors import build_extractor, check_extractor_fits, default_extractor, extractor_spec
from gancli.sampling.translation import LoadedTranslators, load_translators, run_pair_data, translate
from gancli.viz.grid import quantize

#: options of ``gancli eval`` that a translation run does not use
UNUSED = {"metrics": "--is/--kid/--prc", "ref": "--ref", "data": "--data", "data_root": "--data-root",
          "split": "--split", "ref_n": "--ref-n", "per_class": "--per-class", "chunks": "--chunks",
          "truncation": "--truncation"}
COLLAPSE_N = 500  # translations the collapse ratio is measured on (pairwise: n^2 distances)


def _features(images: torch.Tensor, extract, layers: list[str], batch_size: int) -> dict[str, torch.Tensor]:

    parts: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(images), batch_size):
        out = extract(quantize(images[start: start + batch_size]))
        for layer in layers:
            parts[layer].append(out[layer].float().cpu())
    return {layer: torch.cat(p) for layer, p in parts.items()}


def pixel_errors(output: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """(mean |output - target|, mean per-image PSNR in dB) with both mapped from [-1, 1] to [0, 1]
    and quantised to 8 bits first (what a saved PNG holds); a perfect image counts as 100 dB."""

    x = quantize(output).float() / 255
    y = quantize(target).float() / 255
    l1 = float((x - y).abs().mean())
    mse = ((x - y) ** 2).flatten(1).mean(1)
    psnr = torch.where(mse > 0, -10 * torch.log10(mse.clamp_min(1e-20)), torch.full_like(mse, 100.0))
    return l1, float(psnr.mean())


def evaluate_translators(tr: LoadedTranslators, req: EvalRequest, device: torch.device | str = "cpu") -> EvalResult:
    """FID per direction, the collapse ratios, and on shapes-pair the ground-truth errors and class
    preservation; ``req.n`` test images per domain at most (fewer when the test split is smaller)."""
    for key, flag in UNUSED.items():
        value = getattr(req, key)
        if value not in (None, False, [], ["fid"]):
            raise GancliError(f"{flag} does not apply to a translation run; gancli eval reports FID per direction, "
                              "the collapse ratio and (on shapes-pair) the error against the true translation")
    started = time.time()
    ckpt = tr.checkpoint
    dataset_name = ckpt.train_config.get("dataset")
    name = req.feature_extractor or default_extractor(dataset_name)
    spec = extractor_spec(name)
    check_extractor_fits(name, dataset_name)
    test = run_pair_data(ckpt, "test")
    truth = test.has_ground_truth
    wants_classes = truth and spec.classifies_shapes
    layers = sorted({spec.feature_layer} | ({spec.logits_layer} if wants_classes else set()))
    extractor = build_extractor(name, layers, device, req.inception_weights if name == "inception" else None)
    extract = make_extract(extractor, device)
    out: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    n_used = {}
    for direction, net_name, source, target in (("a2b", "G_AB", test.a, test.b), ("b2a", "G_BA", test.b, test.a)):
        t0 = time.time()
        n = min(req.n, len(source), len(target))
        if n < 2:
            raise GancliError(f"the test split has {n} image{'s' if n != 1 else ''} in a domain; FID needs at least 2")
        inputs = source.get_batch(torch.arange(n))[0]
        fake = translate(tr.nets[net_name], inputs, req.batch_size)
        real = target.get_batch(torch.arange(n))[0]
        f_fake = _features(fake, extract, [spec.feature_layer], req.batch_size)
        f_real = _features(real, extract, [spec.feature_layer], req.batch_size)
        out[f"fid_{direction}"] = fid_from_features(f_fake[spec.feature_layer], f_real[spec.feature_layer])
        k = min(n, COLLAPSE_N)
        out[f"collapse_{direction}"] = collapse_ratio(fake[:k], inputs[:k])
        n_used[direction] = n
        seconds[direction] = time.time() - t0
    if truth:
        t0 = time.time()
        true_a, true_b, classes = test.ground_truth("test", min(req.n, len(test.a)))
        for direction, net_name, source, target in (("a2b", "G_AB", true_a, true_b), ("b2a", "G_BA", true_b, true_a)):
            fake = translate(tr.nets[net_name], source, req.batch_size)
            out[f"l1_{direction}"], out[f"psnr_{direction}"] = pixel_errors(fake, target)
            if wants_classes:
                logits = _features(fake, extract, [spec.logits_layer], req.batch_size)[spec.logits_layer]
                kept = logits.argmax(1) == classes
                out[f"class_kept_{direction}"] = float(kept.float().mean())
                out[f"class_kept_{direction}_per_class"] = {
                    name: float(kept[classes == k].float().mean()) for k, name in enumerate(test.class_names)
                    if (classes == k).any()}
        if wants_classes:
            for domain, images in (("a", true_a), ("b", true_b)):
                logits = _features(images, extract, [spec.logits_layer], req.batch_size)[spec.logits_layer]
                out[f"class_real_{domain}"] = float((logits.argmax(1) == classes).float().mean())
        out["truth_n"] = len(classes)
        seconds["ground truth"] = time.time() - t0
    seconds["total"] = time.time() - started
    n = min(n_used.values())
    return EvalResult(tr.step, str(tr.path), n, name, f"{dataset_name} test split (the target domain)", n,
                      None, out, seconds)


def evaluate_translation(target: str | Path | None, req: EvalRequest, device: torch.device | str = "cpu",
                         ema: bool | None = None, runs_root: str | Path = RUNS_ROOT, log: bool = True,
                         checkpoint=None) -> EvalResult:
    """Loads a translation run's checkpoint, evaluates it, and (``log``) appends the record to its
    metrics.jsonl."""
    req.check()
    if req.feature_extractor is not None:
        extractor_spec(req.feature_extractor)
    tr = load_translators(target, ema=ema, device=device, checkpoint=checkpoint)
    result = evaluate_translators(tr, req, device)
    run = tr.checkpoint.run_dir
    if log and run is not None and append_record(run / "metrics.jsonl", result.record()) is None:
        result.unlogged = run / "metrics.jsonl"
    return result


def translation_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a translation record for the eval table, in reading order."""
    rows = []
    for direction, label in (("a2b", "A -> B"), ("b2a", "B -> A")):
        for key, what, fmt in (("fid", "FID", "{:.4g}"), ("l1", "L1 vs truth", "{:.4f}"),
                               ("psnr", "PSNR vs truth", "{:.2f} dB"), ("class_kept", "class kept", "pct"),
                               ("collapse", "collapse ratio", "{:.2f}")):
            value = m.get(f"{key}_{direction}")
            if value is None:
                continue
            shown = f"{100 * value:.1f}%" if fmt == "pct" else fmt.format(value)
            rows.append((f"{label}: {what}", shown))
    for domain in ("a", "b"):
        if f"class_real_{domain}" in m:
            rows.append((f"classifier on true {domain.upper()} images", f"{100 * m[f'class_real_{domain}']:.1f}%"))
    return rows


__all__ = ["evaluate_translation", "evaluate_translators", "pixel_errors", "translation_rows"]
