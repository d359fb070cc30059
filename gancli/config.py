"""The one table of defaults, shared by the CLI and the library.

CLI flag names equal field names (``--attn-res`` <-> ``attn_res``). A resolved config is a plain
dict of JSON types: it is saved beside every run and inside every checkpoint, and it rebuilds the
model exactly (``build_models(ModelConfig.from_dict(d))``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gancli.errors import GancliError

RESOLUTIONS = (32, 64, 128, 256)


@dataclass
class ModelConfig:
    """Architecture of one G/D pair. ``None`` fields take the model's own default in ``resolve``."""

    name: str = "sagan"  # dcgan | sngan | sagan | biggan
    res: int = 32  # output resolution: 32, 64, 128 or 256
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
    sn_d: bool = True
    sn_target: float = 1.0  # K in W * K / sigma(W)
    init: str | None = None  # ortho | xavier | normal | default
    shared_dim: int = 128  # BigGAN: shared class-embedding size
    hier: bool = True  # BigGAN: hierarchical z (one chunk per block)
    extra: dict[str, Any] = field(default_factory=dict)

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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GancliError(f"model config has unknown fields: {', '.join(sorted(unknown))}")
        return cls(**d)

    def resolve(self) -> "ModelConfig":
        """Validates and fills the model-specific defaults; returns a new, fully explicit config."""
        from gancli.models import MODELS

        spec = MODELS.get(self.name)
        if self.res not in RESOLUTIONS:
            raise GancliError(
                f"unsupported resolution {self.res}; choose one of: {', '.join(map(str, RESOLUTIONS))}"
            )
        if self.n_classes > 0 and self.n_attrs > 0:
            raise GancliError("a model is conditioned on classes or on attributes, not both")
        if self.n_classes < 0 or self.n_attrs < 0:
            raise GancliError("n_classes and n_attrs must be >= 0")
        if self.ch < 1 or self.z_dim < 1 or (self.d_ch is not None and self.d_ch < 1):
            raise GancliError("ch, d_ch and z_dim must be positive")
        d = self.to_dict()
        if d["d_ch"] is None:
            d["d_ch"] = self.ch
        for key, value in spec.defaults(self).items():
            if d.get(key) is None:
                d[key] = value
        if d["cond_mode"] not in spec.cond_modes:
            raise GancliError(
                f"model {self.name} supports cond_mode {', '.join(spec.cond_modes)}, not {d['cond_mode']!r}"
            )
        d["attn_res"] = sorted(int(r) for r in d["attn_res"])
        for r in d["attn_res"]:
            if r < 8 or r > self.res or r & (r - 1):
                raise GancliError(f"attn_res {r} is not a power-of-two resolution between 8 and {self.res}")
        if d["attn_res"] and not spec.has_attention:
            raise GancliError(f"model {self.name} has no self-attention; leave attn_res empty")
        return ModelConfig(**d)


#: Hyperparameter presets (as StyleGAN2-ADA's --cfg): a preset sets these fields, options given
#: explicitly override it. "sagan" is the dataclass defaults below (Zhang et al. 2019: hinge,
#: Adam(0.0, 0.9), lr_G 1e-4, lr_D 4e-4, n_dis 1, batch 64, ch 64). "quick" is for the built-in
#: shapes data on a laptop CPU: narrow nets with D three times G's multiplier, batch 24, 4x the
#: learning rates (the TTUR ratio kept), --reuse-fake and a short EMA horizon: about 4.5 minutes on
#: 2 cores give class-correct shapes (docs/training.md has the numbers).
PRESETS: dict[str, dict[str, Any]] = {
    "sagan": {},
    "quick": {"ch": 8, "d_ch": 24, "batch_size": 24, "lr_g": 4e-4, "lr_d": 1.6e-3, "reuse_fake": True,
              "ema_decay": 0.99, "steps": 1600, "log_every": 25, "sample_every": 320, "ckpt_every": 800},
}


def auto_preset(dataset: str) -> str:
    return "quick" if dataset == "shapes" else "sagan"


@dataclass
class TrainConfig:
    """Everything ``gancli train`` needs. The field defaults are SAGAN's (the "sagan" preset);
    ``TrainConfig.from_options`` applies a preset first, then the explicitly given options."""

    preset: str = "sagan"  # the preset these values came from: sagan | quick
    dataset: str = "shapes"
    data_root: str | None = None  # root of a local dataset (folder path, cifar10/mnist/celeba root)
    download: bool = False
    split: str = "train"
    data_size: int | None = None  # shapes: number of generated images
    cond: bool | None = None  # None: conditional whenever the data has class labels
    attrs: list[str] | None = None  # celeba: condition on this attribute subset
    model: str = "sagan"
    res: int = 32
    ch: int = 64
    d_ch: int | None = None  # D's width multiplier; None: the same as ch
    z_dim: int = 128
    attn_res: list[int] | None = None
    loss: str = "hinge"
    steps: int = 100_000
    batch_size: int = 64
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_dis: int = 1
    ema: bool = True
    ema_decay: float = 0.999
    lr_decay: float = 0.0  # both lrs fall linearly to 0 over this last fraction of the steps (0: constant)
    ortho_reg: float = 0.0  # BigGAN orthogonal regularisation strength for G (1e-4 in BigGAN)
    reuse_fake: bool = False  # G step reuses the D step's G forward (saves a G forward; n_dis 1)
    split_d: bool = False  # D step in two passes, real then fake: same gradients, half D's activations
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: str = "off"  # off | bf16 | fp16 (fp16 with a GradScaler, CUDA only)
    compile: bool = False
    out: str | None = None  # run directory; default runs/<dataset>-<model>-<res>-<time>
    log_every: int = 100
    sample_every: int = 1000
    ckpt_every: int = 5000
    keep: int = 3  # step checkpoints kept besides last.pt (0 keeps all)
    eval_every: int = 0  # steps between evaluations of G_ema (0: never); see docs/evaluation.md
    eval_n: int = 2000  # generated images per evaluation
    eval_metrics: list[str] = dataclasses.field(default_factory=lambda: ["fid"])  # fid, is, kid, prc
    feature_extractor: str | None = None  # None: shapes-net for shapes, else inception
    inception_weights: str | None = None  # a local copy of the Inception weights
    resume: str | None = None
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainConfig":
        """Defaults, then the preset (``auto``: "quick" for shapes, else "sagan"), then ``options``."""
        options = dict(options)
        preset = options.pop("preset", "auto")
        if preset == "auto":
            preset = auto_preset(options.get("dataset", cls.dataset))
        if preset not in PRESETS:
            raise GancliError(f"unknown preset '{preset}'; choose one of: auto, {', '.join(PRESETS)}")
        return cls(**{**PRESETS[preset], **options, "preset": preset})

    def validate(self) -> "TrainConfig":
        for name in ("steps", "batch_size", "n_dis", "log_every", "sample_every", "ckpt_every", "ch", "z_dim"):
            if getattr(self, name) <= 0:
                raise GancliError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.d_ch is not None and self.d_ch <= 0:
            raise GancliError(f"--d-ch must be positive, got {self.d_ch}")
        if self.eval_every < 0:
            raise GancliError(f"--eval-every must be >= 0 (0: no evaluation), got {self.eval_every}")
        if self.eval_every and self.eval_n < 2:
            raise GancliError(f"--eval-n must be at least 2, got {self.eval_n}")
        unknown = [m for m in self.eval_metrics if m not in ("fid", "is", "kid", "prc")]
        if unknown or not self.eval_metrics:
            raise GancliError(f"--eval-metrics takes a comma list of fid, is, kid, prc; got {','.join(self.eval_metrics)!r}")
        if self.feature_extractor is not None:
            from gancli.metrics.extractors import extractor_spec

            extractor_spec(self.feature_extractor)
        if self.keep < 0:
            raise GancliError("--keep must be >= 0")
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) <= 0:
                raise GancliError(f"--{name.replace('_', '-')} must be positive")
        if not (0.0 <= self.lr_decay <= 1.0):
            raise GancliError(f"--lr-decay is a fraction of the steps in [0, 1], got {self.lr_decay}")
        if not (0.0 <= self.ema_decay < 1.0):
            raise GancliError("--ema-decay must be in [0, 1)")
        if self.res not in RESOLUTIONS:
            raise GancliError(
                f"unsupported resolution {self.res}; choose one of: {', '.join(map(str, RESOLUTIONS))}"
            )
        if self.amp not in ("off", "bf16", "fp16"):
            raise GancliError(f"unknown --amp {self.amp!r}; choose one of: off, bf16, fp16")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise GancliError(f"unknown --device {self.device!r}; choose one of: auto, cpu, cuda, mps")
        if self.reuse_fake and self.n_dis != 1:
            raise GancliError("--reuse-fake needs --n-dis 1 (the G step reuses the one D step's fakes)")
        from gancli.losses import LOSSES
        from gancli.models import MODELS

        MODELS.get(self.model)
        LOSSES.get(self.loss)
        return self
