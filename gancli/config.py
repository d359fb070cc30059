"""The one table of defaults, shared by the CLI and the library.

CLI flag names equal field names (``--attn-res`` <-> ``attn_res``; the one exception is
``--model``, which names ``ModelConfig.name``). ``TrainConfig`` holds a ``ModelConfig``, so every
model field is a ``gancli train`` option. A resolved config is a plain dict of JSON types: it is
saved beside every run and inside every checkpoint, and it rebuilds the model exactly
(``build_models(ModelConfig.from_dict(d))``).

This module imports nothing of gancli but ``errors``: names (models, losses, methods, feature
extractors) are checked against their registries by the layers that own them
(``gancli.training.check_names``, ``gancli.models.resolve_model``).

The request dataclasses of the other commands (``SampleRequest``, ``EvalRequest``,
``AttnRequest``, ``SnRequest``) live here too: their field defaults are the CLI's defaults.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gancli.errors import GancliError

RESOLUTIONS = (28, 32, 64, 128, 256)  # 28: MNIST's own size, for the models that support it
RUNS_ROOT = Path("runs")  # where `gancli train` puts runs by default (relative to the working directory)
MIN_TRUNCATION = 0.01  # resampling needs ~1/P(|z| <= t) rounds per entry: 0.01 keeps it well under a second


def check_truncation(t: float | None) -> None:
    """The one check of a truncation threshold t (|z_i| <= t by resampling)."""
    if t is None:
        return
    if not t > 0:
        raise GancliError(f"--truncation must be positive, got {t:g}")
    if t < MIN_TRUNCATION:
        raise GancliError(f"--truncation {t:g} is too small; use at least {MIN_TRUNCATION}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


_SCALARS = {"int": int, "float": (int, float), "bool": bool, "str": str}


def _value_fits(value: Any, annotation: str) -> bool:
    """Whether ``value`` has the type a field annotation (as a string) names: int, float, bool, str,
    list[...] and "X | None" (bool is no int here: ``steps: true`` is nonsense)."""
    for option in (a.strip() for a in annotation.split("|")):
        if option == "None" and value is None:
            return True
        if option.startswith("list[") and isinstance(value, list):
            inner = option[5:-1]
            if all(_value_fits(v, inner) for v in value):
                return True
        elif option in _SCALARS and not (isinstance(value, bool) and option != "bool"):
            if isinstance(value, _SCALARS[option]):
                return True
    return False


def check_types(obj: Any) -> None:
    """Every field of dataclass ``obj`` holds a value of its annotated type (configs read from JSON
    or from a checkpoint can hold anything)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.type in _SCALARS or "|" in f.type or f.type.startswith("list["):
            if not _value_fits(value, f.type):
                flag = "--model" if (type(obj).__name__, f.name) == ("ModelConfig", "name") else _flag(f.name)
                raise GancliError(f"{flag} must be {f.type.replace(' | None', ' or none')}, got {value!r}")


#: Model-building conventions change when gancli is made more faithful to a paper. A config records the
#: revision it was made under, so a checkpoint rebuilds the networks it was trained with:
#:   1  (gancli 0.1): D's bn / ln / wn with a learnable gamma; z ~ N(0, I) for every model; BEGAN's
#:      encoder widening on its stride-2 convs
#:   2  (gancli 0.2): no gamma in D's bn / ln / wn (Miyato et al. 2018's baselines); BEGAN's z ~ U[-1, 1]
#:      and its encoder widening on the first conv of the next scale (Berthelot et al.'s reference code)
#: A stored config without a ``revision`` key is of revision 1 (``ModelConfig.from_dict``).
MODEL_REVISION = 2
LEGACY_REVISION = 1
Z_DISTS = ("normal", "uniform")

MAX_TRAIN_SEED = 2**32 - 1  # numpy's and torch's generators take it whole (torch's seeds reach seed x 1000 + rank)
MAX_DATA_SIZE = 10_000_000  # images: shapes draws this many scenes; a subset of a dataset is at most the dataset
MAX_WIDTH = 2048  # --ch, --d-ch: BigGAN-deep's widest is 2048 at ch 128; beyond is a typo
MAX_Z_DIM = 16384  # StyleGAN's z is 512, BigGAN's 120-128

# ============================================================================================ model
@dataclass
class ModelConfig:
    """Architecture of one G/D pair. ``None`` fields take the model's own default in
    ``gancli.models.resolve_model``. ``channels``, ``n_classes`` and ``n_attrs`` come from the data."""

    name: str = "sagan"  # dcgan | cnn | sngan | sagan | biggan | began | cyclegan
    res: int = 32  # output resolution: 28 (dcgan, cnn, began), 32, 64, 128 or 256
    channels: int = 3  # image channels (the dataset says)
    ch: int = 64  # channel multiplier: every width is a multiple of it
    d_ch: int | None = None  # D's multiplier (BigGAN-PyTorch's D_ch); None: the same as ch
    z_dim: int = 128
    n_classes: int = 0  # > 0: class-conditional on class indices
    n_attrs: int = 0  # > 0: conditional on a multi-hot vector of k binary attributes
    cond_mode: str | None = None  # "proj": CBN in G + projection D; "concat": cGAN concatenation
    attn_res: list[int] | None = None  # resolutions that get a self-attention block (G and D)
    attn_pool: bool = True  # 2x2 max-pool on keys and values (SAGAN/BigGAN)
    sn_g: bool | None = None  # spectral norm in G (SAGAN/BigGAN: yes)
    sn_d: bool = True  # kept for old configs; d_norm says it: sn_d is d_norm == "sn"
    d_norm: str | None = None  # D's normalisation: sn | bn | ln | wn | instance | none; None: the model's (sn for GANs)
    sn_target: float = 1.0  # K in W * K / sigma(W)
    init: str | None = None  # ortho | xavier | normal | default
    shared_dim: int = 128  # BigGAN: shared class-embedding size
    hier: bool = True  # BigGAN: hierarchical z (one chunk per block)
    g_blocks: int | None = None  # CycleGAN: residual blocks of the ResNet generator [6 at <= 128 px, 9 at 256]
    d_norm_gamma: bool | None = None  # a learnable scale gamma in D's bn / ln / wn; None: the model's (no: the SNGAN paper's baselines)
    z_dist: str | None = None  # the latent prior: normal (N(0, I)) or uniform (U[-1, 1]); None: the model's (BEGAN: uniform)
    mbstd: int = 0  # D: minibatch standard deviation over groups of this many images (ProGAN); 0: off
    revision: int = MODEL_REVISION  # the conventions the networks were built under (not an option: see LEGACY)

    @property
    def label_kind(self) -> str:
        if self.n_classes > 0:
            return "class"
        if self.n_attrs > 0:
            return "attrs"
        return "none"

    @property
    def n_labels(self) -> int:
        return self.n_classes or self.n_attrs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """From a stored config (``to_dict()`` of a run's config.json or checkpoint); a config stored
        before revisions were recorded is of ``LEGACY_REVISION``."""
        d = dict(d)
        d.pop("extra", None)  # checkpoints from before 0.2 carry an unused, always empty "extra"
        d.setdefault("revision", LEGACY_REVISION)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GancliError(f"model config has unknown fields: {', '.join(sorted(unknown))}")
        return cls(**d)

    def check(self) -> None:
        """Values that are wrong whatever the model (the model's own rules: ``resolve_model``)."""
        check_types(self)
        if self.res not in RESOLUTIONS:
            raise GancliError(
                f"unsupported resolution {self.res}; choose one of: {', '.join(map(str, RESOLUTIONS))}"
            )
        if self.n_classes > 0 and self.n_attrs > 0:
            raise GancliError("a model is conditioned on classes or on attributes, not both")
        if self.n_classes < 0 or self.n_attrs < 0:
            raise GancliError("n_classes and n_attrs must be >= 0")
        if not 0 <= self.mbstd <= 64:
            raise GancliError(f"--mbstd is a group size between 1 and 64 (0: off), got {self.mbstd}")
        if self.g_blocks is not None and not 0 <= self.g_blocks <= 64:
            raise GancliError(f"--g-blocks must be between 0 and 64, got {self.g_blocks}")
        for name, most in (("ch", MAX_WIDTH), ("d_ch", MAX_WIDTH), ("z_dim", MAX_Z_DIM), ("shared_dim", MAX_Z_DIM)):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= most:
                raise GancliError(f"{_flag(name)} must be positive, at most {most}, got {value}")
        if not (math.isfinite(self.sn_target) and self.sn_target > 0):
            raise GancliError(f"--sn-target must be a positive number, got {self.sn_target}")
        if self.z_dist is not None and self.z_dist not in Z_DISTS:
            raise GancliError(f"unknown --z-dist {self.z_dist!r}; choose one of: {', '.join(Z_DISTS)}")
        if self.revision not in (LEGACY_REVISION, MODEL_REVISION):
            raise GancliError(f"model config revision {self.revision} is not one this gancli knows "
                              f"({LEGACY_REVISION}-{MODEL_REVISION}); a newer gancli wrote it")


#: the model fields a user sets (``--model`` is ``name``); the data sets the others
MODEL_OPTIONS = {"model": "name", **{f.name: f.name for f in dataclasses.fields(ModelConfig)
                                     if f.name not in ("name", "channels", "n_classes", "n_attrs", "revision")}}


# ============================================================================================ train
#: Hyperparameter presets (as StyleGAN2-ADA's --cfg): a preset sets these options (train or model
#: fields by their flag names), options given explicitly override it. "sagan" is the dataclass
#: defaults below (Zhang et al. 2019: hinge, Adam(0.0, 0.9), lr_G 1e-4, lr_D 4e-4, n_dis 1,
#: batch 64, ch 64). "quick" is for the built-in shapes data on a laptop CPU: narrow nets with D
#: three times G's multiplier, batch 24, G and D both at 4e-4 (D at 4x G's rate, the TTUR ratio,
#: collapsed this small G), --reuse-fake and a short EMA horizon: a few minutes on 2 cores give
#: class-correct shapes in more of the data's variety (docs/training.md has the trials).
PRESETS: dict[str, dict[str, Any]] = {
    "sagan": {},
    "quick": {"ch": 8, "d_ch": 24, "batch_size": 24, "lr_g": 4e-4, "lr_d": 4e-4, "reuse_fake": True,
              "ema_decay": 0.99, "steps": 1600, "log_every": 25, "sample_every": 320, "ckpt_every": 800},
    # Miyato et al. 2018's CIFAR-10 ResNet setting (their best SN-GAN): the ResNet G/D, hinge, Adam 2e-4,
    # betas (0, 0.9), n_dis 5, lr falling linearly to 0, batch 64
    "sngan-resnet": {"model": "sngan", "d_norm": "sn", "loss": "hinge", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0,
                     "beta2": 0.9, "n_dis": 5, "lr_decay": 1.0, "batch_size": 64, "ema": False},
    # Brock et al. 2019: Adam (0, 0.999), lr_G 1e-4, lr_D 4e-4, n_dis 2, G-EMA 0.9999 from step 20000,
    # orthogonal regularisation 1e-4, hinge
    "biggan": {"model": "biggan", "loss": "hinge", "lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.999,
               "n_dis": 2, "ema_decay": 0.9999, "ema_start": 20000, "ortho_reg": 1e-4},
    # The rows of the SNGAN reproducibility report (shared/seeds/002), on one footing: the paper's
    # standard CNN (Miyato et al. 2018, Table 3) for the four gan rows, the report's first optimiser
    # setting report-A (lr 1e-3, betas (0.5, 0.9), one D step, constant lr), batch 64, no EMA; the
    # standard (non-saturating) loss, as the report's code trains its SNGAN, BN and LN rows and as
    # Miyato et al. compare the normalisations; so the rows differ in the normalisation or the loss
    "sngan": {"model": "cnn", "d_norm": "sn", "loss": "ns", "hparams": "report-A", "batch_size": 64, "ema": False},
    # WGAN-GP keeps Gulrajani et al.'s n_critic 5 under every setting (PRESET_PINS), as the report's code does
    "wgan-gp": {"model": "cnn", "d_norm": "none", "loss": "wgan-gp", "n_dis": 5, "hparams": "report-A",
                "batch_size": 64, "ema": False},
    "bn": {"model": "cnn", "d_norm": "bn", "loss": "ns", "hparams": "report-A", "batch_size": 64, "ema": False},
    "ln": {"model": "cnn", "d_norm": "ln", "loss": "ns", "hparams": "report-A", "batch_size": 64, "ema": False},
    "began": {"method": "began", "model": "began", "z_dim": 64, "ch": 32, "batch_size": 16, "gamma": 0.5,
              "lambda_k": 0.001, "hparams": "report-A", "ema": False},
    "ebgan": {"method": "ebgan", "model": "began", "z_dim": 64, "ch": 32, "batch_size": 64, "margin": 1.0,
              "pt_weight": 0.1, "hparams": "report-A", "ema": False},
    # Zhu et al. 2017 as junyanz/pytorch-CycleGAN-and-pix2pix trains it: LSGAN, Adam 2e-4 (0.5, 0.999),
    # batch 1, lambda_cyc 10, identity 0.5, pools of 50; 100 epochs constant + 100 decaying to 0
    # (on ~1000 images: 200,000 iterations, the second half decaying); no EMA
    "cyclegan": {"method": "cyclegan", "model": "cyclegan", "loss": "ls", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
                 "beta2": 0.999, "batch_size": 1, "steps": 200_000, "lr_decay": 0.5, "ema": False,
                 "log_every": 100, "sample_every": 5000, "ckpt_every": 10_000},
    # the default on the built-in shapes-pair: the paper's recipe with narrower nets (ch 16) and batch 4,
    # so that the translations are right within ~5 CPU minutes (docs/cyclegan.md)
    "cyclegan-quick": {"method": "cyclegan", "model": "cyclegan", "loss": "ls", "ch": 16, "lr_g": 2e-4,
                       "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 4, "steps": 1800,
                       "lr_decay": 0.5, "ema": False, "log_every": 25, "sample_every": 300, "ckpt_every": 900},
}

#: Named optimiser settings: each sets the learning rate (both G and D), Adam's betas, n_dis and the
#: lr decay, so a setting replaces a preset's optimiser whole. A-F are Table 1 of Miyato et al. 2018
#: (constant lr: the table names no schedule); report-A..C are the three the SNGAN reproducibility
#: report prints (ten times A-C's learning rate), with what the report's code trains under each:
#: one D step per G step and a constant lr. Explicit options win.
HPARAMS: dict[str, dict[str, Any]] = {
    "A": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "lr_decay": 0.0},
    "B": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
    "C": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
    "D": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "lr_decay": 0.0},
    "E": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 5, "lr_decay": 0.0},
    "F": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "n_dis": 5, "lr_decay": 0.0},
    "report-A": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.9, "n_dis": 1, "lr_decay": 0.0},
    "report-B": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
    "report-C": {"lr": 2e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
}

#: Options a preset keeps whatever ``--hparams`` says, because they belong to the system it trains,
#: not to the optimiser setting: WGAN-GP's n_critic 5 (Gulrajani et al. 2017; the report's code keeps
#: it under each of its settings). An explicit option still wins.
PRESET_PINS: dict[str, tuple[str, ...]] = {"wgan-gp": ("n_dis",)}


def hparams_options(name: str) -> dict[str, Any]:
    """The train options a named setting sets (lr goes to both lr_g and lr_d)."""
    if name not in HPARAMS:
        raise GancliError(f"unknown hparams '{name}'; choose one of: {', '.join(HPARAMS)}")
    setting = dict(HPARAMS[name])
    lr = setting.pop("lr")
    return {"lr_g": lr, "lr_d": lr, **setting}

#: two-domain datasets (gancli.data.PAIR_DATASETS): they train CycleGAN unless told otherwise
PAIR_DATASET_NAMES = ("pair", "shapes-pair")


def dataset_seed(train_config: dict[str, Any]) -> int:
    """The data seed of a saved train config (``data_seed``, else ``seed``; configs from before
    --data-seed have only ``seed``)."""
    value = train_config.get("data_seed")
    return int(train_config.get("seed", 0) if value is None else value)


def auto_preset(dataset: str) -> str:
    """The preset ``--preset auto`` picks: the data chooses (two-domain data trains CycleGAN)."""
    if dataset in PAIR_DATASET_NAMES:
        return "cyclegan-quick" if dataset == "shapes-pair" else "cyclegan"
    return "quick" if dataset == "shapes" else "sagan"


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
    gamma: float = 0.5  # BEGAN: the diversity ratio gamma = E[L(G(z))] / E[L(x)] that k_t steers to
    lambda_k: float = 0.001  # BEGAN: the learning rate of k_t
    lr_halving: int = 0  # BEGAN: halve both lrs when M_global has not improved for this many steps (0: off)
    margin: float = 1.0  # EBGAN: the margin m of D's hinge on fake energies
    pt_weight: float = 0.1  # EBGAN: weight of the pulling-away term in G's loss (0: none)
    lambda_cyc: float = 10.0  # CycleGAN: weight of each cycle-consistency L1 term
    lambda_id: float = 0.5  # CycleGAN: identity-loss weight, relative to lambda_cyc (0: none)
    pool_size: int = 50  # CycleGAN: images in each D's history pool (0: no pool)
    narrow_b: bool = False  # shapes-pair: every B shape at one position and size (reproduces collapse)
    augment: str | None = None  # gan: differentiable augmentation of D's inputs: diffaug[:ops] or ada (gancli.augment)
    ada_target: float = 0.6  # ada: the r_t = E[sign(D(x_real))] that p is steered to
    ada_interval: int = 4  # ada: iterations between adjustments of p
    ada_kimg: float = 500.0  # ada: thousands of real images over which p can rise from 0 to 1
    reg: list[str] = field(default_factory=list)  # gan: D regularisers NAME[:weight]: lecam, cr, bcr, r1
    accumulate: int = 1  # gan: each D and G step over this many batches of --batch-size (BigGAN-PyTorch's accumulations)
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in known and k != "model"}
        return cls(**values, model=ModelConfig.from_dict(model))

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
        known = {f.name for f in dataclasses.fields(cls)} - {"model"}
        unknown = set(flat) - known - set(MODEL_OPTIONS) - {"revision"}
        if unknown:
            raise GancliError(f"unknown training options: {', '.join(sorted(unknown))}")
        model = ModelConfig(**{MODEL_OPTIONS[k]: v for k, v in flat.items() if k in MODEL_OPTIONS},
                            **({"revision": flat["revision"]} if "revision" in flat else {}))
        return cls(**{k: v for k, v in flat.items() if k in known}, model=model)

    def validate(self) -> "TrainConfig":
        """Values, once, before anything is built (names: ``gancli.training.check_names``)."""
        check_types(self)
        if not isinstance(self.model, ModelConfig):
            raise GancliError(f"the model config must be a table of model options, got {self.model!r}")
        self.model.check()
        for name in ("steps", "batch_size", "n_dis", "log_every", "sample_every", "ckpt_every", "accumulate"):
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
        if self.pool_size < 0:
            raise GancliError(f"--pool-size must be >= 0 (0: no pool), got {self.pool_size}")
        for name in ("gamma", "lambda_k", "margin", "pt_weight", "lambda_cyc", "lambda_id"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GancliError(f"{_flag(name)} must be a finite number >= 0, got {value}")
        if self.lr_halving < 0:
            raise GancliError(f"--lr-halving must be >= 0 (0: off), got {self.lr_halving}")
        if self.amp not in ("off", "bf16", "fp16"):
            raise GancliError(f"unknown --amp {self.amp!r}; choose one of: off, bf16, fp16")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise GancliError(f"unknown --device {self.device!r}; choose one of: auto, cpu, cuda, mps")
        return self


#: what a re-run from a run's config.json leaves out: where the run was, and how it was continued
NOT_RERUN = ("out", "name", "resume", "allow_data_change")


def toml_module():
    """The standard library's ``tomllib`` (Python 3.11+), or its backport ``tomli`` on 3.10 (a
    dependency there); both have ``loads`` and ``TOMLDecodeError``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


MAX_OPTION_FILE = 1 << 20  # bytes of a --config or --study file


def read_option_file(path: str | Path, flag: str) -> str:
    """The text of a small option file (``--config``, ``--study``): a regular file of at most 1 MiB,
    checked by type and size before it is read (a FIFO or /dev/zero would never end)."""
    import stat

    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise GancliError(f"{flag} {path} does not exist") from None
    except OSError as err:
        raise GancliError(f"{flag} {path} cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise GancliError(f"{flag} {path} is not a regular file")
    if info.st_size > MAX_OPTION_FILE:
        raise GancliError(f"{flag} {path} is {info.st_size} bytes; an option file is at most {MAX_OPTION_FILE} bytes")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_OPTION_FILE + 1)
        return data[:MAX_OPTION_FILE].decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise GancliError(f"{flag} {path} cannot be read ({err})") from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """TOML -> dict; a syntax error or nesting deeper than Python's stack is one GancliError."""
    tomllib = toml_module()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        hint = ""
        if text.lstrip().startswith(("---", "%YAML")) or (":" in text.split("\n", 1)[0] and "=" not in text.split("\n", 1)[0]):
            hint = " (it looks like YAML: gancli reads TOML, key = value)"
        raise GancliError(f"{where} is not valid TOML ({err}){hint}") from None
    except RecursionError:
        raise GancliError(f"{where} nests too deeply to be an option file") from None


def parse_json(text: str, where: str) -> Any:
    """JSON -> value; a syntax error or nesting deeper than Python's stack is one GancliError."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise GancliError(f"{where} is not valid JSON ({err})") from None
    except RecursionError:
        raise GancliError(f"{where} nests too deeply to be read") from None


def train_options_from_file(path: str | Path) -> dict[str, Any]:
    """``gancli train --config FILE``: the train options a file holds, flat, by their Python names.

    - a TOML file: a table of train options (``steps = 2000``, ``model = "sagan"``, ``attn-res =
      [16]``; dashes or underscores), as in a ``gancli compare`` study's variant tables;
    - a run's ``config.json`` (or ``gancli train --dry-run``'s output): its ``train`` table, every
      option as that run resolved it, without its run directory (a re-run gets a new one).

    Explicit options given with ``--config`` override the file's (``gancli.api.train_config``)."""
    path = Path(path)
    text = read_option_file(path, "--config")
    if path.suffix.lower() == ".json":
        data = parse_json(text, f"--config {path}")
        if not isinstance(data, dict) or not isinstance(data.get("train"), dict):
            raise GancliError(f"--config {path}: a JSON config is a run's config.json, with a \"train\" table")
        unknown = sorted(set(data["train"]) - {f.name for f in dataclasses.fields(TrainConfig)})
        if unknown:
            raise GancliError(f"--config {path}: its train table has unknown keys {', '.join(map(str, unknown[:6]))} "
                              "(not a config.json of this gancli)")
        if not isinstance(data["train"].get("model"), dict):
            raise GancliError(f"--config {path}: its train table has no model table (a run's config.json has one)")
        try:
            options = TrainConfig.from_dict(data["train"]).options()
        except (TypeError, GancliError) as err:
            raise GancliError(f"--config {path}: its train table is not a gancli config ({err})") from None
        return {k: v for k, v in options.items() if k not in NOT_RERUN}
    data = parse_toml(text, f"--config {path}")
    options = {key.replace("-", "_"): value for key, value in data.items()}
    known = ({f.name for f in dataclasses.fields(TrainConfig)} - {"model"}) | set(MODEL_OPTIONS)
    unknown = sorted(set(options) - known)
    if unknown:
        raise GancliError(f"--config {path}: unknown train options {', '.join(unknown)} (the names of gancli train's flags)")
    return options


# ============================================================================================ requests
@dataclass
class SampleRequest:
    """``gancli sample``."""

    n: int = 64  # images (with interp: rows)
    truncation: list[float] | None = None  # one value, or several for a sweep (one row per value)
    classes: str | None = None  # --class spec
    attrs: str | None = None  # --attrs spec
    seed: int = 0
    batch_size: int = 64
    nrow: int | None = None
    interp: int | None = None  # steps of an interpolation per row

    def check(self) -> None:
        """Bad numbers and clashing options, found before any checkpoint is read."""
        if self.n <= 0:
            raise GancliError(f"-n must be positive, got {self.n}")
        if self.batch_size <= 0:
            raise GancliError(f"--batch-size must be positive, got {self.batch_size}")
        if self.truncation is not None and len(self.truncation) == 0:
            raise GancliError("--truncation is empty")
        for t in self.truncation or []:
            check_truncation(t)
        if not 0 <= self.seed < 2**63:
            raise GancliError(f"--seed must be between 0 and 2^63 - 1, got {self.seed}")
        if len(self.truncation or []) > 1 and self.interp is not None:
            raise GancliError("a truncation sweep (several --truncation values) and --interp do not mix")
        if self.nrow is not None and self.nrow <= 0:
            raise GancliError(f"--nrow must be positive, got {self.nrow}")
        if self.interp is not None and self.interp < 2:
            raise GancliError(f"--interp needs at least 2 steps, got {self.interp}")
        if self.classes is not None and self.attrs is not None:
            raise GancliError("give --class or --attrs, not both")
        multi_class = self.classes is not None and (self.classes.strip().lower() == "all" or "," in self.classes)
        if self.nrow is not None and (self.interp is not None or multi_class or len(self.truncation or []) > 1):
            raise GancliError("--nrow applies to plain grids; class rows, sweeps and interpolations set their own")


@dataclass
class EvalRequest:
    """``gancli eval`` (and ``gancli train --eval-every``)."""

    metrics: list[str] = field(default_factory=list)  # names of gancli.metrics.METRICS; empty: fid
    n: int = 10_000  # generated images
    feature_extractor: str | None = None  # None: shapes-factor-net for a shapes run, else inception
    inception_weights: str | None = None
    ref: str | None = None  # a folder of images or an .npz (instead of a dataset)
    data: str | None = None  # a dataset by name instead of the run's own
    data_root: str | None = None
    split: str | None = None
    ref_n: int | None = None  # reference images [the whole split, up to 50,000]
    per_class: bool = False
    chunks: int | None = None
    truncation: float | None = None
    seed: int = 0
    batch_size: int = 100
    cache: bool = True
    cache_dir: str | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    nn: bool = False  # nearest training images of the first samples, and the memorisation statistic

    def check(self) -> None:
        """Bad numbers and clashing options, found before anything is loaded (metric names and
        their sample sizes: ``gancli.metrics.registry.check_metrics``)."""
        if self.n < 2:
            raise GancliError(f"-n must be at least 2 (a covariance needs two samples), got {self.n}")
        if self.ref_n is not None and self.ref_n < 2:
            raise GancliError(f"--ref-n must be at least 2, got {self.ref_n}")
        if self.batch_size < 1:
            raise GancliError(f"--batch-size must be positive, got {self.batch_size}")
        if self.chunks is not None:
            if self.chunks < 2:
                raise GancliError(f"--chunks must be at least 2, got {self.chunks}")
            if self.n // self.chunks < 2:
                raise GancliError(f"--chunks {self.chunks} leaves fewer than 2 of the {self.n} images per chunk")
        check_truncation(self.truncation)
        if self.inception_weights is not None and self.feature_extractor not in (None, "inception"):
            raise GancliError("--inception-weights applies to --feature-extractor inception")
        if self.ref is not None and (self.data is not None or self.data_root is not None or self.split is not None):
            raise GancliError("give a reference path (--ref) or a dataset (--data/--data-root/--split), not both")
        if self.kid_subsets < 1 or self.kid_subset_size < 2:
            raise GancliError("--kid-subsets must be >= 1 and --kid-subset-size >= 2")


@dataclass
class AttnRequest:
    """``gancli attn-map``."""

    points: list[str] = field(default_factory=list)  # "X,Y" strings; empty: the image centre
    n: int = 4
    net: str = "g"  # g | d
    layer: str | None = None  # block name or index; None: every block
    images: list[Path] = field(default_factory=list)  # --net d: image files
    generated: bool = False  # --net d: on generated images
    classes: str | None = None
    truncation: float | None = None
    seed: int = 0
    ema: bool | None = None
    entropy: bool = False
    raw: bool = False

    def check(self) -> None:
        if self.net not in ("g", "d"):
            raise GancliError(f"--net is g or d, got {self.net!r}")
        if self.n < 1:
            raise GancliError(f"-n must be positive, got {self.n}")
        if self.images and self.net != "d":
            raise GancliError("--image is for D's attention on real images: add --net d")
        if self.generated and self.net != "d":
            raise GancliError("--generated applies to --net d (G's maps are always on generated images)")
        if self.images and self.generated:
            raise GancliError("give --image files or --generated, not both")
        check_truncation(self.truncation)
        if self.net == "d" and not self.generated and (self.classes is not None or self.truncation is not None):
            raise GancliError("--class and --truncation choose generated images: with --net d add --generated")
        for path in self.images:
            if not Path(path).is_file():
                raise GancliError(f"--image {path}: no such file")


@dataclass
class SnRequest:
    """``gancli sn-check``."""

    net: str = "both"  # g | d | both
    iters: int = 300  # power iterations (at most) for sigma_op
    rtol: float = 1e-5  # power iteration stops when sigma changes by less than this (relative)
    tol: float = 0.05  # flag |sigma_mat(W / sigma_hat) / K - 1| > tol
    n: int = 16  # images per kind for the gradient check
    seed: int = 0
    model: str | None = None  # a fresh model instead of a checkpoint
    res: int = 32
    ch: int | None = None
    n_classes: int = 0
    d_norm: str | None = None  # a fresh model's D normalisation (sn, bn, ln, wn, none) [the model's]
    warmup: int = 0  # training-mode forwards (one power iteration each) before a fresh audit

    def check(self) -> None:
        if self.net not in ("g", "d", "both"):
            raise GancliError(f"--net is g, d or both, got {self.net!r}")
        if self.iters < 2:
            raise GancliError(f"--iters must be at least 2, got {self.iters}")
        if not self.tol > 0:
            raise GancliError(f"--tol must be positive, got {self.tol}")
        if self.n < 1:
            raise GancliError(f"-n must be positive, got {self.n}")
        if self.warmup < 0:
            raise GancliError(f"--warmup must be >= 0, got {self.warmup}")
        if self.warmup and self.model is None:
            raise GancliError("--warmup is for a fresh --model: on a checkpoint it would change the u, v being audited")


@dataclass
class ExportRequest:
    """``gancli export``."""

    target: str | Path | None = None  # checkpoint, run directory, run name; None = the newest run
    format: str = "torchscript"
    out: Path | None = None  # None: generator.<suffix> (translator-<direction>.<suffix>) here
    ema: bool | None = None  # None: the EMA weights when the checkpoint has them
    direction: str | None = None  # translators: a2b (default) or b2a
    force: bool = False  # replace an existing --out and contract
    seed: int = 0  # of the inputs the check draws


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (for help texts and CLI signatures)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise KeyError(name)
