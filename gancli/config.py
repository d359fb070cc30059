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
        if self.ch < 1 or self.z_dim < 1:
            raise GancliError("ch and z_dim must be positive")
        d = self.to_dict()
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
