"""``ModelConfig``: the architecture of a run, every field a ``gancli train`` option (``--model`` is
``name``); channels, classes and attributes come from the data.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from gancli.config.checks import MAX_WIDTH, MAX_Z_DIM, RESOLUTIONS, _flag, check_types
from gancli.errors import GancliError


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
