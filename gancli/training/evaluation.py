"""``gancli train --eval-every N``: the metrics of ``gancli eval``, on G_ema, during training.

The feature extractor and the reference features (the run's own training data, through the same
cache as ``gancli eval``) are made once, before the run directory is created, so a missing
Inception file stops the run before anything is written. Each evaluation draws its own z and labels
from seeded generators and leaves the global RNG alone: a run with evaluations trains exactly as
one without.
"""
from __future__ import annotations

from typing import Any

from gancli.config import EvalRequest
from gancli.metrics.evaluate import evaluate_generator, make_extract
from gancli.metrics.extractors import build_extractor, default_extractor, extractor_key, extractor_spec
from gancli.metrics.reference import dataset_key, dataset_reference, reference_features
from gancli.metrics.registry import METRICS
import torch


def _rng_kept(device):
    """Everything inside runs on forked RNG states (building a network draws initial weights from
    the global generator), so training continues with exactly the state it would have had."""

    devices = [device.index or 0] if getattr(device, "type", None) == "cuda" else []
    return torch.random.fork_rng(devices=devices)


class TrainEvaluator:
    def __init__(self, trainer):
        with _rng_kept(trainer.device):
            self._setup(trainer)

    def _setup(self, trainer):
        cfg = trainer.cfg
        self.trainer = trainer
        metrics = set(cfg.eval_metrics)
        spec = extractor_spec(cfg.feature_extractor or default_extractor(cfg.dataset))
        weights = cfg.inception_weights if spec.name == "inception" else None
        self.req = EvalRequest(metrics=sorted(metrics), n=cfg.eval_n, feature_extractor=spec.name,
                               inception_weights=weights, seed=cfg.seed)
        self.req.check()
        self.extractor = build_extractor(spec.name, spec.layers, trainer.device, weights)
        key = dataset_key(cfg.dataset, cfg.data_root, cfg.split, cfg.data_size, cfg.dataset_seed, cfg.model.res)
        self.reference = dataset_reference(trainer.dataset, key)
        self.ref_features = None
        if any(METRICS.get(m).needs_reference for m in metrics):
            self.ref_features, _ = reference_features(self.reference, make_extract(self.extractor, trainer.device),
                                                      extractor_key(spec.name, weights), spec.reference_layers)

    def __call__(self, step: int) -> dict[str, Any]:
        """Evaluates G_ema (or G without EMA) in eval mode; returns the metrics.jsonl record."""
        trainer = self.trainer
        net = trainer.generator
        was_training = net.training
        net.eval()
        try:
            with _rng_kept(trainer.device):
                result = evaluate_generator(net, trainer.model_cfg, trainer.dataset_info, trainer.cfg.to_dict(),
                                            self.req, step=step, device=trainer.device, reference=self.reference,
                                            extractor=self.extractor, ref_features=self.ref_features,
                                            ema=trainer.method.generator in trainer.emas)
        finally:
            net.train(was_training)
        return result.record()
