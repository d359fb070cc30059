"""The one table of defaults, shared by the CLI and the library.

CLI flag names equal field names (``--attn-res`` <-> ``attn_res``; the one exception is
``--model``, which names ``ModelConfig.name``). ``TrainConfig`` holds a ``ModelConfig``, so every
model field is a ``gancli train`` option. A resolved config is a plain dict of JSON types: it is
saved beside every run and inside every checkpoint, and it rebuilds the model exactly
(``build_models(ModelConfig.from_dict(d))``).

This package imports nothing of gancli but ``errors``: names (models, losses, methods, feature
extractors) are checked against their registries by the layers that own them
(``gancli.training.check_names``, ``gancli.models.resolve_model``).

The request dataclasses of the other commands (``SampleRequest``, ``EvalRequest``,
``AttnRequest``, ``SnRequest``) live here too: their field defaults are the CLI's defaults.

Modules: ``checks`` (type and range checks, bounds), ``model`` (ModelConfig), ``presets`` (PRESETS,
HPARAMS, the default preset of a dataset), ``owned`` (the options of one method or dataset each:
BEGAN's, EBGAN's, CycleGAN's, shapes-pair's), ``train`` (TrainConfig), ``files`` (``--config`` and the
option-file readers), ``requests`` (the other commands' requests).
"""
from gancli.config.checks import (MAX_DATA_SIZE, MAX_TRAIN_SEED, MAX_WIDTH, MAX_Z_DIM, MIN_TRUNCATION, RESOLUTIONS,
                                  RUNS_ROOT, check_truncation, check_types, default)
from gancli.config.files import (MAX_OPTION_FILE, parse_json, parse_toml, read_option_file, toml_module,
                                 train_options_from_file)
from gancli.config.model import LEGACY_REVISION, MODEL_OPTIONS, MODEL_REVISION, Z_DISTS, ModelConfig
from gancli.config.presets import (HPARAMS, PAIR_DATASET_NAMES, PRESET_PINS, PRESETS, auto_preset, dataset_seed,
                                   hparams_options)
from gancli.config.requests import AttnRequest, EvalRequest, ExportRequest, SampleRequest, SnRequest, draw_seed
from gancli.config.owned import OWNED_FIELDS, OWNED_OPTIONS, OwnedOptions, owned_by, owned_default
from gancli.config.train import NOT_RERUN, TrainConfig, train_option_names

__all__ = ["AttnRequest", "EvalRequest", "ExportRequest", "HPARAMS", "LEGACY_REVISION", "MAX_DATA_SIZE",
           "MAX_OPTION_FILE", "MAX_TRAIN_SEED", "MAX_WIDTH", "MAX_Z_DIM", "MIN_TRUNCATION", "MODEL_OPTIONS",
           "MODEL_REVISION", "ModelConfig", "NOT_RERUN", "OWNED_FIELDS", "OWNED_OPTIONS", "OwnedOptions", "PAIR_DATASET_NAMES", "PRESETS", "PRESET_PINS",
           "RESOLUTIONS", "RUNS_ROOT", "SampleRequest", "SnRequest", "TrainConfig", "Z_DISTS", "auto_preset",
           "check_truncation", "check_types", "dataset_seed", "default", "draw_seed", "hparams_options", "owned_by", "owned_default", "parse_json",
           "parse_toml", "read_option_file", "toml_module", "train_option_names", "train_options_from_file"]
