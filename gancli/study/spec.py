"""What a study is: variants x hparams settings x seeds, each one an ordinary ``gancli train`` run.

A variant is a preset name (``sngan``, ``wgan-gp``, ``began``, ...), a model name (``dcgan``,
``sagan``: the dataset's automatic preset with that model; ``sagan``, also the name of the default
preset, means the model), or in a study file any set of train options. ``common`` options go to every run (the data, the resolution, the steps ...), then the
variant's own, then the hparams setting and the seed. Every run's data is built with the same
``--data-seed`` (0 unless given), so seeds vary the networks and the batches, not the data, and all
runs share one reference for their evaluations.

A study file (TOML, read with ``tomllib``)::

    out = "studies/shapes"
    seeds = 2                      # or a list: [0, 1, 2]
    hparams = ["report-A"]         # optional
    [common]
    dataset = "shapes"
    steps = 800
    [variants.dcgan]
    model = "dcgan"
    [variants.sagan-wide]
    preset = "quick"
    ch = 16
"""
from __future__ import annotations


import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gancli.config import HPARAMS, PRESETS, TrainConfig, parse_toml, read_option_file
from gancli.config.checks import with_hints
from gancli.errors import GancliError
from gancli.models import MODELS
from gancli.training import check_names, prepare

STUDY_KEYS = ("out", "seeds", "hparams", "common", "variants")
#: metrics every run is evaluated with (KID needs at least its subset size of images: --eval-n)
STUDY_METRICS = ["fid", "is", "kid"]
STUDY_EVAL_N = 2000
EVALS_PER_RUN = 8  # --eval-every defaults to steps / 8
MAX_SEEDS = 1000  # seeds per variant and setting (a count or a list)
MAX_RUNS = 10_000  # runs in one study
#: options a study sets for each run itself
PLACED = ("out", "resume", "seed", "name")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SEPARATOR = "__"  # run folder names: <variant>[__<hparams>]__s<seed>


@dataclass
class RunPlan:
    name: str  # the run folder's name under <study>/runs/
    variant: str
    hparams: str | None
    seed: int
    options: dict[str, Any]  # flat train options, as `gancli train` takes them (out included)

    @property
    def setting(self) -> str:
        """variant, or variant / hparams: one row of the table."""
        return self.variant if self.hparams is None else f"{self.variant} / {self.hparams}"


def run_name(variant: str, hparams: str | None, seed: int) -> str:
    return SEPARATOR.join([variant] + ([hparams] if hparams else []) + [f"s{seed}"])


def parse_run_name(name: str) -> tuple[str, str | None, int] | None:
    """(variant, hparams, seed) of a run folder name, or None when it is not one."""
    parts = name.split(SEPARATOR)
    if len(parts) not in (2, 3) or not re.fullmatch(r"s\d+", parts[-1]):
        return None
    return parts[0], (parts[1] if len(parts) == 3 else None), int(parts[-1][1:])


def variant_options(name: str) -> dict[str, Any]:
    """A variant named on the command line: a preset, else a model (with the automatic preset)."""

    if name in PRESETS and name != "sagan":
        return {"preset": name}
    if name in MODELS:  # sagan is the default preset and a model: the model, under the data's own preset
        return {"model": name}
    choices = sorted(PRESETS) + [m for m in MODELS.names() if m not in PRESETS]
    raise GancliError(f"unknown variant {name!r}: a variant is a preset or a model ({', '.join(choices)}), "
                      "or a table of options in a --study file")


@dataclass
class Study:
    variants: dict[str, dict[str, Any]]
    common: dict[str, Any] = field(default_factory=dict)
    hparams: list[str | None] = field(default_factory=lambda: [None])
    seeds: list[int] = field(default_factory=lambda: [0])
    out: Path = Path("studies/study")

    @classmethod
    def from_options(cls, variants: list[str], common: dict[str, Any] | None = None, hparams: list[str] | None = None,
                     seeds: int | list[int] = 1, out: str | Path | None = None) -> "Study":
        """A study from the command line's names and options."""
        if not variants:
            raise GancliError("name at least one variant (e.g. gancli compare dcgan sagan) or give --study FILE")
        duplicated = sorted({v for v in variants if variants.count(v) > 1})
        if duplicated:
            raise GancliError(f"variant {duplicated[0]!r} is named twice")
        study = cls({name: variant_options(name) for name in variants}, dict(common or {}),
                    list(hparams) if hparams else [None], _seed_list(seeds), Path(out or default_out(variants)))
        study.check()
        return study

    def check(self) -> None:
        """Names, seeds and every run's options, before anything is written."""

        if not self.variants:
            raise GancliError("the study has no variants")
        for name in self.variants:
            if not NAME_RE.match(name) or SEPARATOR in name:
                raise GancliError(f"variant name {name!r}: use letters, digits, '.', '-' and single '_'")
        for h in self.hparams:
            if h is not None and (not isinstance(h, str) or h not in HPARAMS):
                raise GancliError(f"unknown hparams {h!r}; choose among {', '.join(HPARAMS)}")
        repeated = sorted({h for h in self.hparams if h is not None and self.hparams.count(h) > 1})
        if repeated:
            raise GancliError(f"hparams {repeated[0]!r} is named twice")
        for where, options in [("common", self.common)] + [(f"variant {v!r}", o) for v, o in self.variants.items()]:
            placed = [key for key in PLACED if key in options]
            if placed:
                raise GancliError(f"{where}: a study places and seeds every run itself: leave {', '.join(placed)} "
                                  "out of its options (seeds: the study's seeds)")
        if len(self.variants) * len(self.hparams) * len(self.seeds) > MAX_RUNS:
            raise GancliError(f"the study has more than {MAX_RUNS} runs")
        checked: set[str] = set()
        for plan in self.runs():
            try:
                cfg = TrainConfig.from_options(plan.options).validate()
            except (GancliError, TypeError) as err:
                raise GancliError(f"variant {plan.variant!r}: {err}") from None
            if cfg.eval_every <= 0:
                raise GancliError(f"variant {plan.variant!r}: a study evaluates every run; --eval-every must be > 0")
            # the names and method rules once per distinct run; the data (a folder is decoded) once per setup
            key = json.dumps({k: v for k, v in plan.options.items() if k not in ("seed", "out")}, sort_keys=True,
                             default=str)
            data_key = json.dumps([cfg.method, cfg.dataset, cfg.data_root, cfg.split, cfg.data_size, cfg.dataset_seed,
                                   cfg.cond, cfg.attrs, cfg.download, cfg.of("shapes-pair").narrow_b, cfg.model.to_dict()], default=str)
            if key not in checked:
                checked.add(key)
                try:
                    check_names(cfg)
                    if data_key not in checked:
                        checked.add(data_key)
                        prepare(cfg)
                except GancliError as err:
                    where = f"variant {plan.variant!r}" + (f" under hparams {plan.hparams}" if plan.hparams else "")
                    raise GancliError(f"{where}: {err}") from None

    def runs(self) -> list[RunPlan]:
        """Every variant x hparams x seed, in that order, with its full options."""
        plans = []
        for variant, options in self.variants.items():
            for h in self.hparams:
                for seed in self.seeds:
                    name = run_name(variant, h, seed)
                    merged = {"data_seed": 0, "eval_metrics": list(STUDY_METRICS), "eval_n": STUDY_EVAL_N,
                              **self.common, **options, "seed": seed, "out": str(self.out / "runs" / name)}
                    if h is not None:
                        merged["hparams"] = h
                    if "eval_every" not in merged:
                        steps = _steps_of(merged)
                        merged["eval_every"] = max(1, steps // EVALS_PER_RUN)
                    plans.append(RunPlan(name, variant, h, seed, merged))
        return plans

    def to_dict(self) -> dict[str, Any]:
        return {"variants": self.variants, "common": self.common, "hparams": self.hparams, "seeds": self.seeds}


def _steps_of(options: dict[str, Any]) -> int:
    try:
        return TrainConfig.from_options(options).steps
    except GancliError:
        return int(options.get("steps", TrainConfig.steps))


def _seed_list(seeds: int | list[int]) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list)):
        raise GancliError(f"seeds is a count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise GancliError(f"--seeds must be between 1 and {MAX_SEEDS}, got {seeds}")
        return list(range(seeds))
    if not seeds or len(seeds) > MAX_SEEDS or not all(isinstance(s, int) and not isinstance(s, bool)
                                                       and 0 <= s < 2**31 for s in seeds):
        raise GancliError(f"seeds must be a list of 1 to {MAX_SEEDS} integers in [0, 2^31), got {_short(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise GancliError(f"seeds are repeated: {seeds}")
    return list(seeds)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def default_out(variants: list[str]) -> Path:
    return Path("studies") / "-vs-".join(variants[:4])


def _diff(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in new:
                out.append(f"{path} removed (was {old[key]!r})")
            elif key not in old:
                out.append(f"{path} added ({new[key]!r})")
            else:
                out += _diff(old[key], new[key], path)
        return out
    return [] if old == new else [f"{where} {old!r} -> {new!r}"]


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--set key=value`` -> {key: value}; values read as JSON when they parse (numbers, true,
    false, lists), else as text; keys by train option name (dashes or underscores)."""
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise GancliError(f"--set takes KEY=VALUE (a gancli train option), got {item!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        options[key.strip().lstrip("-").replace("-", "_")] = value
    return options


def load_study_file(path: str | Path, out: str | Path | None = None) -> Study:
    """A study from a TOML file (module docstring); ``out`` overrides the file's."""
    path = Path(path)
    data = parse_toml(read_option_file(path, "--study"), f"--study {path}")
    unknown = sorted(set(data) - set(STUDY_KEYS))
    if unknown:
        raise GancliError(f"--study {path}: unknown keys {with_hints(unknown, STUDY_KEYS)} (a study has "
                          f"{', '.join(STUDY_KEYS)})")
    variants = data.get("variants") or {}
    if not isinstance(variants, dict) or not variants or not all(isinstance(v, dict) for v in variants.values()):
        raise GancliError(f"--study {path} defines no variants: add tables such as [variants.sagan]")
    common = data.get("common") or {}
    if not isinstance(common, dict):
        raise GancliError(f"--study {path}: common must be a table of train options")
    hparams = data.get("hparams")
    if isinstance(hparams, str):
        hparams = [hparams]
    if hparams is not None and (not isinstance(hparams, list) or not all(isinstance(h, str) for h in hparams)):
        raise GancliError(f"--study {path}: hparams is a name or a list of names (\"A\", [\"A\", \"B\"]), got {_short(hparams)}")
    out_value = data.get("out")
    if out_value is not None and not isinstance(out_value, str):
        raise GancliError(f"--study {path}: out is a folder name, got {_short(out_value)}")
    study = Study({name: dict(options) for name, options in variants.items()}, dict(common),
                  list(hparams) if hparams else [None], _seed_list(data.get("seeds", 1)),
                  Path(out or data.get("out") or Path("studies") / path.stem))
    try:
        study.check()
    except GancliError as err:
        raise GancliError(f"--study {path}: {err}") from None
    return study


__all__ = ["RunPlan", "Study", "STUDY_METRICS", "load_study_file", "parse_run_name", "parse_set", "run_name",
           "variant_options"]
