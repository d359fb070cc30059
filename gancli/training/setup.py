"""What a run is built from, checked before anything is written: the names in a config against
their registries (``check_names``), the dataset and the resolved model config (``prepare``), and
the resolved run as ``--dry-run`` prints it (``describe_run``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from gancli.checkpoint import run_path_for_name
from gancli.config import TrainConfig
from gancli.config.owned import not_applying
from gancli.data import (PAIR_DATASETS, TwoDomainDataset, build_dataset, build_pair_dataset, downloadable,
                         traits_of)
from gancli.device import resolve_device
from gancli.errors import GancliError
from gancli.loggers.base import check_loggers
from gancli.methods import METHODS
from gancli.metrics.extractors import check_extractor_fits, extractor_spec
from gancli.metrics.registry import METRICS, check_metrics
from gancli.models import MODELS, resolve_model
from gancli.training.rundir import RunDir, dataset_info


def check_names(cfg: TrainConfig) -> None:
    """The names in ``cfg`` against their registries (model, loss, method, feature extractor)."""
    METHODS.get(cfg.method).check_config(cfg)
    MODELS.get(cfg.model.name)
    for name in cfg.eval_metrics:
        METRICS.get(name)
    if cfg.eval_every:
        check_metrics(cfg.eval_metrics, cfg.eval_n, flag="--eval-n")
    if cfg.feature_extractor is not None:
        extractor_spec(cfg.feature_extractor)
        if cfg.eval_every:
            check_extractor_fits(cfg.feature_extractor, cfg.dataset)
    check_loggers(cfg.logger)
    if cfg.name is not None:
        run_path_for_name(cfg.name)


def prepare(cfg: TrainConfig):
    """The dataset and the fully resolved model config that ``cfg`` asks for (the dataset says the
    resolution, channels, classes and attributes). ``cond=None`` means conditional whenever the data
    has class labels (CelebA's attributes only with an explicit ``--cond``; never for a method that
    trains without labels, such as BEGAN). Two-domain data (``pair``, ``shapes-pair``) goes with a
    two-domain method (CycleGAN) and nothing else."""
    method = METHODS.get(cfg.method)
    if (cfg.dataset in PAIR_DATASETS) != method.two_domain:
        if method.two_domain:
            raise GancliError(f"--method {cfg.method} translates between two domains; train it on two-domain data: "
                              f"{', '.join(PAIR_DATASETS.names())} (e.g. gancli train pair DIR), not {cfg.dataset}")
        raise GancliError(f"{cfg.dataset} is two-domain data, for translation: train it with --method cyclegan "
                          f"(what --preset auto picks for it), not --method {cfg.method}")
    if cfg.download and not traits_of(cfg.dataset).downloadable:
        raise GancliError(f"--download fetches {', '.join(downloadable())}; {cfg.dataset} "
                          + ("is generated, it has no files to fetch" if traits_of(cfg.dataset).generated
                             else "reads local files only: put them under --data-root"))
    if cfg.of("shapes-pair").narrow_b and cfg.dataset != "shapes-pair":
        raise GancliError("--narrow-b narrows the built-in shapes-pair's domain B; it does not apply to "
                          f"{cfg.dataset}")
    if method.two_domain:
        dataset = build_pair_dataset(cfg.dataset, root=cfg.data_root, res=cfg.model.res, split=cfg.split,
                                     seed=cfg.dataset_seed, size=cfg.data_size, narrow_b=cfg.of("shapes-pair").narrow_b)
        dataset.split_of("test")  # the grids and evaluations read the test split: missing files fail now
    else:
        cond = cfg.cond if cfg.cond is not None else (traits_of(cfg.dataset).class_labels and not method.unconditional)
        kwargs = dict(root=cfg.data_root, res=cfg.model.res, attrs=cfg.attrs, split=cfg.split, download=cfg.download,
                      seed=cfg.dataset_seed, size=cfg.data_size)
        try:
            dataset = build_dataset(cfg.dataset, cond=cond, **kwargs)
        except GancliError:
            if cfg.cond is not None or not cond:
                raise
            dataset = build_dataset(cfg.dataset, cond=False, **kwargs)  # e.g. a flat folder
    label_kind = getattr(dataset, "label_kind", "none")
    model_cfg = resolve_model(dataclasses.replace(
        cfg.model, channels=dataset.channels,
        n_classes=dataset.n_classes if label_kind == "class" else 0,
        n_attrs=len(dataset.attr_names) if label_kind == "attrs" else 0,
    ))
    return dataset, model_cfg


def domains(dataset) -> dict[str | None, object]:
    """The datasets a run draws batches from: {"A": ..., "B": ...} for two-domain data, else {None: dataset}."""
    if isinstance(dataset, TwoDomainDataset):
        return {"A": dataset.a, "B": dataset.b}
    return {None: dataset}


def describe_run(cfg: TrainConfig, prepared: tuple, resume_dir: Path | None = None) -> dict:
    """What ``--dry-run`` prints: the config with what "auto" and "not given" resolve to filled in
    (conditioning, the run directory, the device), the model as built, the data's description. It
    has config.json's shape, so ``gancli train --config`` reads it back. ``prepared``: ``prepare(cfg)``."""
    dataset, model_cfg = prepared
    train = cfg.to_dict()
    for name in not_applying(train):  # another method's or dataset's options: left out (their defaults on --config)
        del train[name]
    train["cond"] = model_cfg.label_kind != "none"
    train["out"] = str(resume_dir if resume_dir is not None else RunDir.default_path(cfg))
    train["device"] = str(resolve_device(cfg.device))
    return {"train": train, "model": model_cfg.to_dict(), "dataset": dataset_info(dataset)}
