"""``TrainConfig``: every option of ``gancli train``, resolved from defaults < preset < hparams <
a file < the command line, and checked once (``validate``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from gancli.config.checks import MAX_DATA_SIZE, MAX_TRAIN_SEED, _flag, check_types, with_hints
from gancli.config.model import MODEL_OPTIONS, ModelConfig
from gancli.config.owned import OWNED_FIELDS, OWNED_OPTIONS, OwnedOptions, default_owned, split_owned
from gancli.config.presets import HPARAMS, PRESET_PINS, PRESETS, auto_preset, hparams_options
from gancli.errors import GancliError


@dataclass
class TrainConfig:
    """Everything ``gancli train`` needs. The field defaults are SAGAN's (the "sagan" preset);
    ``TrainConfig.from_options`` applies a preset first, then the explicitly given options."""

    preset: str = "sagan"  # the preset these values came from (PRESETS)
    dataset: str = "shapes"
    data_root: str | None = None  # root of a local dataset (folder path, cifar10/mnist/celeba root)
    download: bool = False
    split: str = "train"
    data_size: int | None = None  # shapes: number of generated images
    cond: bool | None = None  # None: conditional whenever the data has class labels
    attrs: list[str] | None = None  # celeba: condition on this attribute subset
    model: ModelConfig = field(default_factory=ModelConfig)  # architecture; channels and labels from the data
    method: str = "gan"  # how one iteration trains (gancli.methods): gan, began, ebgan, cyclegan
    loss: str = "hinge"
    gp_weight: float | None = None  # gradient-penalty weight lambda [the loss's own: 10 for wgan-gp, else 0]
    hparams: str | None = None  # a named optimiser setting (SNGAN paper A-F, report-A..C): lr, betas, n_dis
    steps: int = 100_000
    batch_size: int = 64
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_dis: int = 1
    ema: bool = True
    ema_decay: float = 0.999
    ema_start: int = 0  # steps before the EMA starts averaging (until then it copies G; BigGAN: 20000)
    lr_decay: float = 0.0  # both lrs fall linearly to 0 over this last fraction of the steps (0: constant)
    ortho_reg: float = 0.0  # BigGAN orthogonal regularisation strength for G (1e-4 in BigGAN)
    reuse_fake: bool = False  # G step reuses the D step's G forward (saves a G forward; n_dis 1)
    split_d: bool = False  # D step in two passes, real then fake: same gradients, half D's activations
    seed: int = 0
    data_seed: int | None = None  # seed of the data (shapes' scenes, --data-size subsets); None: --seed
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: str = "off"  # off | bf16 | fp16 (fp16 with a GradScaler, CUDA only)
    compile: bool = False
    sync_bn: bool = False  # under torchrun: batch-norm statistics over the global batch (BigGAN's cross-replica BN)
    out: str | None = None  # run directory; default runs/<name>, or runs/<dataset>-<model>-<res>-<time>
    name: str | None = None  # the run's name: its directory is runs/<name> (instead of --out)
    log_every: int = 100
    sample_every: int = 1000
    ckpt_every: int = 5000
    keep: int = 3  # step checkpoints kept besides last.pt (0 keeps all)
    eval_every: int = 0  # steps between evaluations of G_ema (0: never); see docs/evaluation.md
    eval_n: int = 2000  # generated images per evaluation
    eval_metrics: list[str] = field(default_factory=lambda: ["fid"])  # fid, is, kid, prc
    feature_extractor: str | None = None  # None: shapes-net for shapes, else inception
    inception_weights: str | None = None  # a local copy of the Inception weights
    logger: list[str] = field(default_factory=list)  # experiment loggers besides metrics.jsonl (gancli.loggers)
    resume: str | None = None
    allow_data_change: bool = False  # --resume although the dataset changed (no longer an exact resume)
    # the options of one method or dataset each (gancli.config.owned): BEGAN's gamma, CycleGAN's pool_size, ...
    owned: dict[str, OwnedOptions] = field(default_factory=default_owned)

    def of(self, owner: str) -> OwnedOptions:
        """The options of a method or dataset (``cfg.of("began").gamma``)."""
        return self.owned[owner]

    def __getattr__(self, name: str) -> Any:  # cfg.gamma: an owned option read by its flat name
        if name in OWNED_FIELDS and "owned" in self.__dict__:
            return getattr(self.owned[OWNED_FIELDS[name]], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in OWNED_FIELDS and "owned" in self.__dict__:
            setattr(self.owned[OWNED_FIELDS[name]], name, value)
        else:
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of JSON types, the owned options at the top level beside the others (where
        config.json and checkpoints have always had them: after ``gp_weight``)."""
        d = dataclasses.asdict(self)
        owned = {k: v for group in d.pop("owned").values() for k, v in group.items()}
        flat: dict[str, Any] = {}
        for key, value in d.items():
            flat[key] = value
            if key == "gp_weight":
                flat.update(owned)
        return flat

    @property
    def dataset_seed(self) -> int:
        """The seed the data is built with: --data-seed, or --seed when that is not given."""
        return self.seed if self.data_seed is None else self.data_seed

    def options(self) -> dict[str, Any]:
        """The config as flat options, as the command line names them (``model`` is the model's name)."""
        flat = {k: v for k, v in self.to_dict().items() if k != "model"}
        flat.update({opt: getattr(self.model, name) for opt, name in MODEL_OPTIONS.items()})
        flat["revision"] = self.model.revision  # not an option: it travels so that a resume rebuilds the same nets
        return flat

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """From ``to_dict()``'s output, or from a checkpoint written before TrainConfig held a
        ModelConfig (model name and architecture options at the top level)."""
        d = dict(d)
        model = d.get("model")
        if not isinstance(model, dict):  # flat, as saved before 0.2: model name and options at the top
            model = {MODEL_OPTIONS[k]: v for k, v in d.items() if k in MODEL_OPTIONS and v is not None}
        known = {f.name for f in dataclasses.fields(cls)} - {"model", "owned"}
        rest, owned = split_owned(d)
        values = {k: v for k, v in rest.items() if k in known}
        return cls(**values, model=ModelConfig.from_dict(model), owned=owned)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainConfig":
        """Defaults, then the preset (``auto``: "quick" for shapes, else "sagan"), then ``options``
        (flat, by flag name)."""
        options = dict(options)
        preset = options.pop("preset", "auto")
        if preset == "auto":
            preset = auto_preset(options.get("dataset", cls.dataset))
        if preset not in PRESETS:
            raise GancliError(f"unknown preset '{preset}'; choose one of: auto, {', '.join(PRESETS)}")
        # defaults < preset < the named hparams setting (--hparams, or the preset's) < explicit options
        if "sn_d" in options and "d_norm" not in options:  # --no-sn-d says --d-norm none, over a preset's
            options["d_norm"] = "sn" if options["sn_d"] else "none"
        chosen = {**PRESETS[preset], **options}
        hparams = hparams_options(chosen["hparams"]) if chosen.get("hparams") else {}
        pinned = {k: PRESETS[preset][k] for k in PRESET_PINS.get(preset, ())}
        return cls.from_flat({**PRESETS[preset], **hparams, **pinned, **options, "preset": preset})

    @classmethod
    def from_flat(cls, flat: dict[str, Any]) -> "TrainConfig":
        """From flat options (``options()``'s shape); a name that is no option is an error."""
        known = {f.name for f in dataclasses.fields(cls)} - {"model", "owned"}
        unknown = set(flat) - known - set(MODEL_OPTIONS) - set(OWNED_FIELDS) - {"revision"}
        if unknown:
            raise GancliError(f"unknown training options: {with_hints(sorted(unknown), known | set(MODEL_OPTIONS) | set(OWNED_FIELDS))}")
        model = ModelConfig(**{MODEL_OPTIONS[k]: v for k, v in flat.items() if k in MODEL_OPTIONS},
                            **({"revision": flat["revision"]} if "revision" in flat else {}))
        rest, owned = split_owned(flat)
        return cls(**{k: v for k, v in rest.items() if k in known}, model=model, owned=owned)

    def validate(self) -> "TrainConfig":
        """Values, once, before anything is built (names: ``gancli.training.check_names``)."""
        check_types(self)
        if not isinstance(self.model, ModelConfig):
            raise GancliError(f"the model config must be a table of model options, got {self.model!r}")
        self.model.check()
        for name in ("steps", "batch_size", "n_dis", "log_every", "sample_every", "ckpt_every"):
            if getattr(self, name) <= 0:
                raise GancliError(f"{_flag(name)} must be positive, got {getattr(self, name)}")
        for name in ("seed", "data_seed"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_TRAIN_SEED:
                raise GancliError(f"{_flag(name)} must be between 0 and 2^32 - 1, got {value}")
        if self.data_size is not None and not 1 <= self.data_size <= MAX_DATA_SIZE:
            raise GancliError(f"--data-size must be between 1 and {MAX_DATA_SIZE:,}, got {self.data_size}")
        for name in ("lr_g", "lr_d", "ema_decay", "lr_decay", "ortho_reg", "beta1", "beta2", "gp_weight"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise GancliError(f"{_flag(name)} must be a finite number, got {value}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise GancliError(f"{_flag(name)} must be in [0, 1) (Adam's moment decay), got {getattr(self, name)}")
        if self.ortho_reg < 0:
            raise GancliError(f"--ortho-reg must be >= 0, got {self.ortho_reg}")
        if self.eval_every < 0:
            raise GancliError(f"--eval-every must be >= 0 (0: no evaluation), got {self.eval_every}")
        if self.eval_every and self.eval_n < 2:
            raise GancliError(f"--eval-n must be at least 2, got {self.eval_n}")
        if not self.eval_metrics:
            raise GancliError("--eval-metrics takes a comma list of metric names, e.g. fid,kid; got none")
        if self.keep < 0:
            raise GancliError("--keep must be >= 0")
        if self.name is not None and self.out is not None:
            raise GancliError("give the run directory once: --name NAME (runs/NAME) or --out DIR")
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) <= 0:
                raise GancliError(f"{_flag(name)} must be positive")
        if self.gp_weight is not None and not self.gp_weight >= 0:
            raise GancliError(f"--gp-weight must be >= 0, got {self.gp_weight}")
        if not (0.0 <= self.lr_decay <= 1.0):
            raise GancliError(f"--lr-decay is a fraction of the steps in [0, 1], got {self.lr_decay}")
        if not (0.0 <= self.ema_decay < 1.0):
            raise GancliError("--ema-decay must be in [0, 1)")
        if self.ema_start < 0:
            raise GancliError(f"--ema-start must be >= 0, got {self.ema_start}")
        if self.hparams is not None and self.hparams not in HPARAMS:
            raise GancliError(f"unknown hparams '{self.hparams}'; choose one of: {', '.join(HPARAMS)}")
        if not isinstance(self.owned, dict) or set(self.owned) != set(OWNED_OPTIONS):
            raise GancliError(f"the config must hold the options of {', '.join(OWNED_OPTIONS)}, got {self.owned!r}")
        for options in self.owned.values():
            options.check()
        if self.amp not in ("off", "bf16", "fp16"):
            raise GancliError(f"unknown --amp {self.amp!r}; choose one of: off, bf16, fp16")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise GancliError(f"unknown --device {self.device!r}; choose one of: auto, cpu, cuda, mps")
        return self


def train_option_names() -> set[str]:
    """Every ``gancli train`` option by its Python name: TrainConfig's fields, the owned options of
    every method and dataset, and the model's (``model`` is its name)."""
    return ({f.name for f in dataclasses.fields(TrainConfig)} - {"model", "owned"}) | set(OWNED_FIELDS) | set(MODEL_OPTIONS)


#: what a re-run from a run's config.json leaves out: where the run was, and how it was continued
NOT_RERUN = ("out", "name", "resume", "allow_data_change")
