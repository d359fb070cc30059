"""Options that belong to one training method or one dataset, each set in its own dataclass and
registered under its owner's name (``@owned_by("began")``), with its ranges declared
(``non_negative``, ``counts``) or checked in its own ``check``. ``TrainConfig`` holds one instance of
every registered set (``cfg.of("began").gamma``; ``cfg.gamma`` reads the same value), so a new
method with options of its own adds a class here and touches no shared class.

On disk nothing changes: config.json, checkpoints and ``--dry-run`` keep every option at the top
level of the train config, as the command line names them (``--gamma`` is ``gamma``), and a config
that lacks one (an older run) gets its default.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gancli.config.checks import _flag, check_types
from gancli.errors import GancliError

#: owner name (a method or a dataset) -> its options dataclass, in registration order
OWNED_OPTIONS: dict[str, type["OwnedOptions"]] = {}


@dataclass
class OwnedOptions:
    """A set of options of one owner; subclasses add fields (each a ``gancli train`` option) and
    extend ``check`` with their ranges."""

    owner: ClassVar[str] = ""
    non_negative: ClassVar[tuple[str, ...]] = ()  # numbers that must be finite and >= 0
    counts: ClassVar[dict[str, str]] = {}  # whole numbers that must be >= 0 -> what 0 means

    def check(self) -> None:
        check_types(self)
        for name in self.non_negative:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GancliError(f"{_flag(name)} must be a finite number >= 0, got {value}")
        for name, zero in self.counts.items():
            if getattr(self, name) < 0:
                raise GancliError(f"{_flag(name)} must be >= 0 ({zero}), got {getattr(self, name)}")


def owned_by(owner: str):
    """Registers an options dataclass as the options of ``owner`` (a method or dataset name)."""

    def register(cls: type[OwnedOptions]) -> type[OwnedOptions]:
        clash = set(option_names(cls)) & set(OWNED_FIELDS)
        if owner in OWNED_OPTIONS or clash:
            raise ValueError(f"options of {owner!r} registered twice or clashing: {sorted(clash)}")
        cls.owner = owner
        OWNED_OPTIONS[owner] = cls
        OWNED_FIELDS.update({name: owner for name in option_names(cls)})
        return cls

    return register


#: option name -> the owner whose set holds it
OWNED_FIELDS: dict[str, str] = {}


def option_names(cls: type[OwnedOptions]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def default_owned() -> dict[str, OwnedOptions]:
    """Every registered set at its defaults."""
    return {owner: cls() for owner, cls in OWNED_OPTIONS.items()}


def split_owned(flat: dict[str, Any]) -> tuple[dict[str, Any], dict[str, OwnedOptions]]:
    """Flat options -> (the options that are not owned, every registered set with the owned ones
    given in ``flat`` and defaults for the rest)."""
    rest = {k: v for k, v in flat.items() if k not in OWNED_FIELDS}
    owned = {owner: cls(**{name: flat[name] for name in option_names(cls) if name in flat})
             for owner, cls in OWNED_OPTIONS.items()}
    return rest, owned


def not_applying(flat: dict[str, Any]) -> set[str]:
    """The owned options of a flat train config that belong to neither its method nor its dataset
    (BEGAN's gamma in a gan run): what a page or ``--dry-run`` leaves out as not applying."""
    owners = {flat.get("method"), flat.get("dataset")}
    return {name for name, owner in OWNED_FIELDS.items() if owner not in owners}


def owned_default(name: str) -> Any:
    """The default of an owned option (for help texts)."""
    cls = OWNED_OPTIONS[OWNED_FIELDS[name]]
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


# ============================================================================================ the sets
@owned_by("began")
@dataclass
class BeganOptions(OwnedOptions):
    """BEGAN (Berthelot et al. 2017): the equilibrium k_t steers to and how fast."""

    gamma: float = 0.5  # the diversity ratio gamma = E[L(G(z))] / E[L(x)] that k_t steers to
    lambda_k: float = 0.001  # the learning rate of k_t
    lr_halving: int = 0  # halve both lrs when M_global has not improved for this many steps (0: off)

    non_negative = ("gamma", "lambda_k")
    counts = {"lr_halving": "0: off"}


@owned_by("ebgan")
@dataclass
class EbganOptions(OwnedOptions):
    """EBGAN (Zhao et al. 2017): D's margin and the pulling-away term."""

    margin: float = 1.0  # the margin m of D's hinge on fake energies
    pt_weight: float = 0.1  # weight of the pulling-away term in G's loss (0: none)

    non_negative = ("margin", "pt_weight")


@owned_by("cyclegan")
@dataclass
class CycleganOptions(OwnedOptions):
    """CycleGAN (Zhu et al. 2017): the loss weights and D's history pool."""

    lambda_cyc: float = 10.0  # weight of each cycle-consistency L1 term
    lambda_id: float = 0.5  # identity-loss weight, relative to lambda_cyc (0: none)
    pool_size: int = 50  # images in each D's history pool (0: no pool)

    non_negative = ("lambda_cyc", "lambda_id")
    counts = {"pool_size": "0: no pool"}


@owned_by("shapes-pair")
@dataclass
class ShapesPairOptions(OwnedOptions):
    """The built-in two-domain data."""

    narrow_b: bool = False  # every B shape at one position and size (reproduces CycleGAN's collapse)


@owned_by("gan")
@dataclass
class GanOptions(OwnedOptions):
    """The ``gan`` method's remedies for small data and large batches (docs/diversity.md)."""

    augment: str | None = None  # differentiable augmentation of D's inputs: diffaug[:ops] or ada (gancli.augment)
    ada_target: float = 0.6  # ada: the r_t = E[sign(D(x_real))] that p is steered to
    ada_interval: int = 4  # ada: iterations between adjustments of p
    ada_kimg: float = 500.0  # ada: thousands of real images over which p can rise from 0 to 1
    reg: list[str] = field(default_factory=list)  # D regularisers NAME[:weight]: lecam, cr, bcr, r1
    accumulate: int = 1  # each D and G step over this many batches of --batch-size (BigGAN-PyTorch's accumulations)

    def check(self) -> None:
        super().check()
        if self.accumulate <= 0:
            raise GancliError(f"--accumulate must be positive, got {self.accumulate}")


__all__ = ["OWNED_FIELDS", "OWNED_OPTIONS", "BeganOptions", "CycleganOptions", "EbganOptions", "GanOptions", "OwnedOptions",
           "ShapesPairOptions", "default_owned", "not_applying", "option_names", "owned_by", "owned_default",
           "split_owned"]
