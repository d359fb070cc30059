"""The requests of the commands other than ``train`` (sample, eval, attn-map, sn-check, export): their
field defaults are the commands' defaults.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from gancli.config.checks import check_truncation
from gancli.errors import GancliError


def draw_seed(seed: int | None) -> int:
    """The seed a command uses: the one given, or a fresh one (printed by the command, so the same
    images can be made again)."""
    return random.randrange(2**31) if seed is None else seed


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
