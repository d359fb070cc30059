"""The Python API: the commands as functions, with the commands' names, options and defaults.

``import gancli`` gives these (lazily: importing gancli does not import torch)::

    result = gancli.train("shapes", steps=200, name="demo")      # gancli train shapes --steps 200 --name demo
    run = gancli.load("demo")                                     # networks + configs
    images = gancli.sample("demo", n=16, truncation=0.5).images   # gancli sample demo -n 16 --truncation 0.5
    scores = gancli.evaluate("demo", metrics=["fid"], n=2000)     # gancli eval demo --fid -n 2000
    maps = gancli.attention_maps("demo", points=["16,16"])        # gancli attn-map demo --point 16,16
    audit = gancli.sn_check("demo")                               # gancli sn-check demo

Every function takes the run the way the commands do (``run``: a run name under ./runs, a run
directory, a checkpoint file, or None for the newest run), returns plain objects (tensors,
dataclasses, dicts) and prints nothing. Errors are ``gancli.GancliError`` with the message the
command would print. Where a function departs from its command it says so: ``train`` shows no
banner or progress bar unless asked, and ``evaluate`` appends to metrics.jsonl only with ``log=True``.
docs/api.md walks through a session.
"""
from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from gancli.config import (AttnRequest, EvalRequest, ExportRequest, ModelConfig, SampleRequest, SnRequest, TrainConfig,
                           draw_seed, train_options_from_file)
from gancli.device import resolve_device
from gancli.errors import GancliError
from gancli.export import export_model
from gancli.inspect.attention import AttnResult, attention_map_files
from gancli.inspect.attention import attention_maps as compute_attention
from gancli.inspect.run_info import checkpoint_info, plot_run
from gancli.inspect.sn_check import sn_check as audit
from gancli.methods import load_run_checkpoint
from gancli.metrics.evaluate import evaluate as score
from gancli.report import RunReportRequest, write_run_report
from gancli.sampling import load_generator, sample_to_files
from gancli.sampling import sample as draw
from gancli.sampling.files import SampleOutputs, default_sample_path
from gancli.sampling.translation import (DIRECTIONS, LoadedTranslators, TranslatedFiles, check_direction,
                                         load_translators, translate_files, write_translation_sheet)
from gancli.sampling.translation import translate as run_net
from gancli.study import Study, StudyResults, collect, commands_left, load_study_file, parse_set, run_study
from gancli.study import write_report as write_study_report
from gancli.training import check_names, describe_run, load_resume, prepare, resume_config
from gancli.training import train as run_training
from gancli.training.cost import CostEstimate, estimate_cost


# ============================================================================================ arguments
def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type: unions, None, Sequence[X] (not a str), tuple[X, Y],
    numbers (an int is a float; a bool is neither), Path-like (str or Path), tensors."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(hint)
        return isinstance(value, (tuple, list)) and len(value) == len(args) and all(map(_fits, value, args))
    if origin in (SequenceABC, list):
        (inner,) = typing.get_args(hint) or (Any,)
        return (isinstance(value, (list, tuple)) and not isinstance(value, str)
                and all(_fits(v, inner) for v in value))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, (str, Path))
    return isinstance(value, hint) if isinstance(hint, type) else True


def _describe(hint: Any) -> str:
    """A type annotation in words: ``float | Sequence[float] | None`` -> "float, a list of float or None"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        words = [_describe(a) for a in args if not (a is str and Path in args)]  # Path: str or Path
        return ", ".join(words[:-1]) + " or " + words[-1]
    if origin in (SequenceABC, list):
        return f"a list of ({_describe(args[0])})" if args else "a list"
    if origin is tuple:
        return "(" + ", ".join(_describe(a) for a in args) + ")"
    if hint is type(None):
        return "None"
    if hint is Path:
        return "str or Path"
    return getattr(hint, "__qualname__", str(hint)) if getattr(hint, "__module__", "") == "builtins" \
        else f"{getattr(hint, '__module__', '')}.{getattr(hint, '__qualname__', hint)}"


def checked(fn):
    """Checks a public function's arguments against its annotations before anything runs: a wrong
    type is one GancliError naming the argument (``n must be int, got '4'``), as the command's own
    option parsing would refuse it. A single string where a list is taken is that list of one
    (``metrics="fid"`` is ``metrics=["fid"]``)."""
    signature = inspect.signature(fn)
    hints: dict[str, Any] = {}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not hints:
            hints.update(typing.get_type_hints(fn))
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:
            raise GancliError(f"gancli.{fn.__name__}: {err}") from None
        for name, value in list(bound.arguments.items()):
            param = signature.parameters[name]
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or name not in hints:
                continue
            if not _fits(value, hints[name]) and isinstance(value, (str, Path)) and _fits([value], hints[name]):
                bound.arguments[name] = value = [value]  # one name where a list is taken: metrics="fid"
            if not _fits(value, hints[name]):
                shown = repr(value)
                shown = shown if len(shown) <= 60 else shown[:60] + "..."
                raise GancliError(f"gancli.{fn.__name__}: {name} must be {_describe(hints[name])}, got {shown}")
        return fn(*bound.args, **bound.kwargs)

    return wrapper

# ============================================================================================ train
@checked
def train_config(dataset: str | None = None, path: str | None = None, config: str | Path | None = None,
                 **options: Any) -> tuple[TrainConfig, dict | None, Path | None]:
    """The configuration ``gancli train`` would run with these options, resolved (preset, hparams,
    resume): ``(config, resume_state, resume_dir)``; the last two are None for a fresh run.
    ``options`` are the command's options by their Python names (``batch_size=32``, ``attn_res=[16]``,
    ``logger=["tensorboard"]``); None means "not given". ``config``: a TOML file of options or a
    run's config.json (``--config``); the options given here override it."""
    explicit = {k: v for k, v in dict(options, dataset=dataset).items() if v is not None}
    if config is not None:
        if "resume" in explicit:
            raise GancliError("--config starts a run from a file; --resume continues a run with its own config: "
                              "give one of them")
        explicit = {**train_options_from_file(config), **explicit}
    if path is not None:
        if "data_root" in explicit:
            raise GancliError("give the data location once: as the PATH argument or as --data-root")
        explicit["data_root"] = path
    state = resume_dir = None
    if "resume" in explicit:
        state, resume_dir = load_resume(explicit["resume"])
        out = explicit.pop("out", None)
        if out is not None and Path(out).resolve() != resume_dir.resolve():
            raise GancliError(f"--resume continues in the checkpoint's own run directory ({resume_dir}); "
                              "drop --out or give that directory")
        cfg = resume_config(state, explicit, resume_dir)
    else:
        cfg = TrainConfig.from_options(explicit)
    cfg.validate()
    check_names(cfg)
    return cfg, state, resume_dir


@checked
def train(dataset: str | None = None, path: str | None = None, *, progress: bool = False, **options: Any):
    """``gancli train``: trains and returns a ``TrainResult`` (``run_dir``, ``step``,
    ``last_checkpoint``, ``last_grid``, ``last_eval``, ``wall_time``, ...). The options and their
    defaults are the command's (``gancli train --help``); ``progress=True`` shows the start banner and
    the progress bar (plain lines when stderr is not a terminal).

    >>> result = gancli.train("shapes", steps=300, name="demo")     # doctest: +SKIP
    """
    cfg, state, resume_dir = train_config(dataset, path, **options)
    return run_training(cfg, show_progress=progress, resume_state=state, resume_dir=resume_dir, checked=True)


@dataclass
class TrainPlan:
    """What ``gancli train --dry-run`` shows: the resolved run, and (``predict()``) its cost."""

    config: dict  # config.json's shape, with "auto" and "not given" resolved (gancli train --config reads it)
    train_config: TrainConfig = field(repr=False)
    prepared: tuple = field(repr=False)  # the run's data and resolved model config
    start_step: int = 0  # where a resumed run goes on

    def predict(self) -> CostEstimate:
        """The run's time and peak memory, measured from a warm-up and two iterations in memory."""
        return estimate_cost(self.train_config, start_step=self.start_step, prepared=self.prepared)


@checked
def plan_training(dataset: str | None = None, path: str | None = None, **options: Any) -> TrainPlan:
    """``gancli train --dry-run``: the run these options would start, resolved (its data is read, its
    model config resolved); nothing is written. ``plan.predict()`` measures its cost."""
    cfg, state, resume_dir = train_config(dataset, path, **options)
    prepared = prepare(cfg)
    return TrainPlan(describe_run(cfg, prepared, resume_dir), cfg, prepared,
                     int(state["step"]) if state is not None else 0)


# ============================================================================================ load
@dataclass
class LoadedRun:
    """A trained run: every network (eval mode, no gradients) and what it was trained with."""

    path: Path  # the checkpoint file
    run_dir: Path | None  # the run directory holding it
    step: int
    method: str  # gan, began, ebgan, cyclegan
    networks: dict[str, nn.Module]  # the training weights: G and D (CycleGAN: G_AB, G_BA, D_A, D_B)
    ema: dict[str, nn.Module]  # the EMA copies the checkpoint holds (G)
    model_config: ModelConfig
    train_config: TrainConfig
    dataset: dict[str, Any] = field(repr=False)  # the training data's description (size, classes, ...)
    generator_name: str = "G"

    @property
    def generator(self) -> nn.Module:
        """G_ema when the checkpoint has it, else G (CycleGAN: G_AB): what ``gancli sample`` uses."""
        name = self.generator_name
        return self.ema[name] if name in self.ema else self.networks[name]

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.get("class_names") or [])

    @property
    def attr_names(self) -> list[str]:
        return list(self.dataset.get("attr_names") or [])


@checked
def load(run: str | Path | None = None, device: str = "cpu") -> LoadedRun:
    """A run's networks and configs (``run``: name, directory, checkpoint file, or None = newest)."""
    ckpt = load_run_checkpoint(run)
    where = resolve_device(device)
    networks = {name: ckpt.network(name, ema=False, device=where)[0] for name in ckpt.network_names}
    ema = {name: ckpt.network(name, ema=True, device=where)[0] for name in ckpt.network_names if ckpt.has_ema(name)}
    return LoadedRun(path=ckpt.path, run_dir=ckpt.run_dir, step=ckpt.step, method=ckpt.method.name,
                     networks=networks, ema=ema, model_config=ckpt.model_config,
                     train_config=TrainConfig.from_dict(ckpt.train_config), dataset=ckpt.dataset,
                     generator_name=ckpt.method.generator)


# ============================================================================================ sample
def _sample_request(n: int, truncation: float | Sequence[float] | None, classes: str | int | None, attrs: str | None,
                    seed: int | None, batch_size: int, nrow: int | None, interp: int | None) -> SampleRequest:
    if isinstance(truncation, (int, float)):
        truncation = [float(truncation)]
    req = SampleRequest(n=n, truncation=None if truncation is None else [float(t) for t in truncation],
                        classes=None if classes is None else str(classes), attrs=attrs, seed=draw_seed(seed),
                        batch_size=batch_size, nrow=nrow, interp=interp)
    req.check()  # bad numbers fail before the checkpoint is even read
    return req


@checked
def sample(run: str | Path | None = None, n: int = SampleRequest.n, *, truncation: float | Sequence[float] | None = None,
           classes: str | int | None = None, attrs: str | None = None, seed: int | None = None,
           ema: bool | None = None, device: str = "auto", batch_size: int = SampleRequest.batch_size,
           nrow: int | None = None, interp: int | None = None):
    """``gancli sample`` in memory: returns ``Samples`` (``images`` uint8 (N, H, W, 3), ``labels``,
    ``z``, ``nrow``, and ``seed``: the one drawn when ``seed`` is None). ``truncation``: one value,
    or several for a sweep (one row per value); ``classes``: an index, a name, a comma list or "all"
    (the command's ``--class``). The same seed gives the same images as the command."""
    req = _sample_request(n, truncation, classes, attrs, seed, batch_size, nrow, interp)
    ckpt = load_run_checkpoint(run)
    if ckpt.method.two_domain:
        raise GancliError(f"{ckpt.path}: a {ckpt.method.name} run translates images: use gancli.translate(run, images)")
    samples = draw(load_generator(ckpt, ema=ema, device=resolve_device(device)), req)
    samples.seed = req.seed
    return samples


@dataclass
class WrittenSamples:
    """What ``write_samples`` wrote, and from which weights."""

    seed: int
    checkpoint: Path
    how: str  # how the checkpoint was found ("the newest run", "the run's last.pt", ...)
    step: int
    ema: bool  # whether the EMA weights were used
    outputs: SampleOutputs | None = None  # a generator's grid / GIF / .npz / PNG folder
    sheet: Path | None = None  # a translation run's sheet of test images and their cycles
    sheet_rows: int = 0  # test images per domain on the sheet
    res: int = 0


@checked
def write_samples(run: str | Path | None = None, n: int = SampleRequest.n, *,
                  truncation: float | Sequence[float] | None = None, classes: str | int | None = None,
                  attrs: str | None = None, seed: int | None = None, ema: bool | None = None, device: str = "auto",
                  batch_size: int = SampleRequest.batch_size, out: str | Path | None = None, nrow: int | None = None,
                  individual: str | Path | None = None, npz: str | Path | None = None,
                  interp: int | None = None, labels: bool = True, scale: int | None = None) -> WrittenSamples:
    """``gancli sample``: writes the grid ``out`` (a PNG; with ``interp`` a GIF beside it), the
    ``npz`` of images and labels and one PNG per image into ``individual``. With none of the three:
    a grid under a name that says what was drawn in the run's samples/ folder. On a translation run:
    a sheet of ``n`` test images per domain and their translations and cycles. The grid names its
    rows (classes, t values) in a margin unless ``labels`` is False, and is upscaled by ``scale``
    (default: tiles to about 64 px); ``npz`` and ``individual`` hold the generator's own pixels."""
    req = _sample_request(n, truncation, classes, attrs, seed, batch_size, nrow, interp)
    out, npz, individual = (None if p is None else Path(p) for p in (out, npz, individual))
    ckpt = load_run_checkpoint(run)
    if ckpt.method.two_domain:
        unused = [flag for flag, value in (("--truncation", truncation), ("--class", classes), ("--attrs", attrs),
                                           ("--interp", interp), ("--npz", npz), ("--individual", individual),
                                           ("--nrow", nrow)) if value is not None]
        if unused:
            raise GancliError(f"{', '.join(unused)} do not apply to a {ckpt.method.name} run (it translates test "
                              "images; -n sets how many per domain)")
        sheet = write_translation_sheet(ckpt, req, out, ema=ema, device=resolve_device(device), labels=labels,
                                        scale=scale)
        return WrittenSamples(req.seed, ckpt.path, ckpt.how, sheet.step, sheet.ema, sheet=sheet.path,
                              sheet_rows=sheet.rows, res=sheet.res)
    gen = load_generator(ckpt, ema=ema, device=resolve_device(device))
    if out is None and npz is None and individual is None:
        out = default_sample_path(ckpt, req, no_ema=ckpt.has_ema() and not gen.ema)
    outputs = sample_to_files(gen, req, out, npz=npz, individual=individual, labels=labels, scale=scale)
    return WrittenSamples(req.seed, gen.path, gen.how, gen.step, gen.ema, outputs=outputs, res=gen.model_config.res)


@checked
def translate(run: str | Path | None, images: torch.Tensor, direction: str = "a2b", ema: bool | None = None,
              device: str = "auto", batch_size: int = 64) -> torch.Tensor:
    """``gancli translate`` on tensors: float images (N, 3, R, R) in [-1, 1] at the run's
    resolution -> their translations, same shape, on the CPU."""
    direction = check_direction(direction)
    tr = load_translators(run, ema=ema, device=resolve_device(device))
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[-2:] != (tr.res, tr.res):
        raise GancliError(f"images must be (N, 3, {tr.res}, {tr.res}) in [-1, 1], got {tuple(images.shape)}")
    net = tr.nets[DIRECTIONS[direction][0]]
    return run_net(net, images.to(tr.device), batch_size).cpu()


@checked
def translate_images(run: str | Path | None = None, *, input: str | Path, out: str | Path,
                     direction: str = "a2b", sheet: str | Path | None = None, batch_size: int = 64,
                     ema: bool | None = None, device: str = "auto") -> tuple[LoadedTranslators, TranslatedFiles]:
    """``gancli translate``: the image file or folder ``input`` through a CycleGAN run into the
    folder ``out`` (and a sheet of input / output pairs); returns the translators and the files."""
    direction = check_direction(direction)
    if batch_size < 1:
        raise GancliError(f"--batch-size must be positive, got {batch_size}")
    if not Path(input).exists():
        raise GancliError(f"--input {input} does not exist")
    tr = load_translators(run, ema=ema, device=resolve_device(device))
    done = translate_files(tr, Path(input), direction, Path(out), sheet=None if sheet is None else Path(sheet),
                           batch_size=batch_size)
    return tr, done


# ============================================================================================ evaluate
@checked
def evaluate(run: str | Path | None = None, metrics: Sequence[str] = ("fid",), n: int = EvalRequest.n, *,
             feature_extractor: str | None = None, inception_weights: str | None = None, ref: str | None = None,
             data: str | None = None, data_root: str | None = None, split: str | None = None,
             ref_n: int | None = None, per_class: bool = False, chunks: int | None = None,
             truncation: float | None = None, seed: int = EvalRequest.seed, batch_size: int = EvalRequest.batch_size,
             cache: bool = EvalRequest.cache, cache_dir: str | None = None, ema: bool | None = None,
             device: str = "auto", nn: bool = False, log: bool = False):
    """``gancli eval``: returns an ``EvalResult`` (``metrics`` dict: fid, is_mean, kid_mean,
    precision, class_accuracy, ...; ``record()`` is the metrics.jsonl line). ``metrics``: any of
    fid, is, kid, prc, prdc (none: fid); ``nn``: the nearest training images of 8 samples and the
    memorisation statistic. Unlike the command, nothing is appended to metrics.jsonl unless
    ``log=True``."""
    req = EvalRequest(metrics=list(metrics), n=n, feature_extractor=feature_extractor,
                      inception_weights=inception_weights, ref=ref, data=data, data_root=data_root, split=split,
                      ref_n=ref_n, per_class=per_class, chunks=chunks, truncation=truncation, seed=seed,
                      batch_size=batch_size, cache=cache, cache_dir=cache_dir, nn=nn)
    req.check()
    return score(run, req, device=resolve_device(device), ema=ema, log=log)


# ============================================================================================ inspect
def _attn_request(points, n, net, layer, images, generated, classes, truncation, seed, ema, entropy=False,
                  raw=False) -> AttnRequest:
    req = AttnRequest(points=[p if isinstance(p, str) else f"{p[0]},{p[1]}" for p in points], n=n, net=net,
                      layer=layer, images=[Path(p) for p in images], generated=generated,
                      classes=None if classes is None else str(classes), truncation=truncation,
                      seed=draw_seed(seed), ema=ema, entropy=entropy, raw=raw)
    req.check()
    return req


@checked
def attention_maps(run: str | Path | None = None, points: Sequence[str | tuple[int, int]] = (), n: int = AttnRequest.n, *,
                   net: str = AttnRequest.net, layer: str | None = None, images: Sequence[str | Path] = (),
                   generated: bool = False, classes: str | int | None = None, truncation: float | None = None,
                   seed: int | None = None, ema: bool | None = None, device: str = "auto"):
    """``gancli attn-map`` in memory: returns ``AttentionMaps`` (``images`` uint8 (N, R, R, 3) the
    network saw, ``maps`` float (N, blocks, points, R, R), each map summing to 1, ``blocks``,
    ``points``, ``labels``). ``points``: "X,Y" strings or (x, y) pairs of output pixels (default:
    the centre)."""
    req = _attn_request(points, n, net, layer, images, generated, classes, truncation, seed, ema)
    result, _ = compute_attention(run, req, device=resolve_device(device))
    return result.maps


@checked
def write_attention_maps(run: str | Path | None = None, points: Sequence[str | tuple[int, int]] = (),
                         n: int = AttnRequest.n, *, net: str = AttnRequest.net, layer: str | None = None,
                         images: Sequence[str | Path] = (), generated: bool = False, classes: str | int | None = None,
                         truncation: float | None = None, seed: int | None = None, ema: bool | None = None,
                         entropy: bool = False, raw: bool = False, out: str | Path | None = None,
                         device: str = "auto", labels: bool = True) -> AttnResult:
    """``gancli attn-map``: writes the PNG of the maps (``out``; default ``RUN/attn/`` and a name
    that says what was drawn; with ``entropy`` a column of attention entropy, with ``raw`` the maps
    as .npy beside it; ``labels``: rows and columns named in a margin) and returns the result
    (``path``, ``raw_path``, ``maps``, ``seed`` ...)."""
    req = _attn_request(points, n, net, layer, images, generated, classes, truncation, seed, ema, entropy, raw)
    result = attention_map_files(run, req, None if out is None else Path(out), device=resolve_device(device),
                                 labels=labels)
    result.seed = req.seed
    return result


@checked
def sn_check(run: str | Path | None = None, *, net: str = SnRequest.net, tol: float = SnRequest.tol,
             iters: int = SnRequest.iters, rtol: float = SnRequest.rtol, n: int = SnRequest.n, seed: int = SnRequest.seed,
             model: str | None = None, res: int = SnRequest.res, ch: int | None = None,
             n_classes: int = SnRequest.n_classes, d_norm: str | None = None, warmup: int = SnRequest.warmup
             ) -> dict[str, Any]:
    """``gancli sn-check``: the audit as a dict (what ``--json`` prints): per network the layers'
    sigma estimates and exact norms, D's Lipschitz bound and gradient norms, and ``drifted``, the
    layers off K by more than ``tol``. ``model="sagan"`` audits a fresh model instead of a run."""
    req = SnRequest(net=net, iters=iters, rtol=rtol, tol=tol, n=n, seed=seed, model=model, res=res, ch=ch,
                    n_classes=n_classes, d_norm=d_norm, warmup=warmup)
    req.check()
    return audit(run, req)


# ============================================================================================ studies
@dataclass
class StudyReport:
    """What ``gancli compare`` reports: the study's rows, notes and missing runs, and the files."""

    results: StudyResults
    files: dict[str, Path]  # table.md, results.csv / .json, curves.png, samples.png, report.html


def _study(variants, study, data, data_root, res, hparams, steps, seeds, eval_every, eval_n, set_options,
           out) -> Study:
    common = {k: v for k, v in dict(dataset=data, data_root=data_root, res=res, steps=steps, eval_every=eval_every,
                                     eval_n=eval_n).items() if v is not None}
    common.update(parse_set(list(set_options)))
    if study is None:
        return Study.from_options(list(variants), common, list(hparams) if hparams else None, seeds,
                                  None if out is None else Path(out))
    if variants:
        raise GancliError("give the variants on the command line or in --study FILE, not both")
    planned = load_study_file(study, out)
    planned.common.update(common)
    if hparams:
        planned.hparams = list(hparams)
    planned.check()
    return planned


@checked
def compare(variants: Sequence[str] = (), *, study: str | Path | None = None, data: str | None = None,
            data_root: str | None = None, res: int | None = None, hparams: Sequence[str] | None = None,
            steps: int | None = None, seeds: int = 1, eval_every: int | None = None, eval_n: int | None = None,
            set_options: Sequence[str] = (), out: str | Path | None = None, jobs: int = 1,
            echo: Callable[[str], None] | None = None, labels: bool = True) -> StudyReport:
    """``gancli compare``: trains every variant x hparams x seed that is not finished (``jobs`` at
    a time), then writes and returns the report. ``study``: a study file instead of ``variants``;
    ``set_options``: other train options as ``KEY=VALUE``; ``echo``: where the progress lines go
    (None: nowhere); ``labels``: samples.png names its rows in a margin."""
    planned = _study(variants, study, data, data_root, res, hparams, steps, seeds, eval_every, eval_n,
                     set_options, out)
    run_study(planned, jobs=jobs, echo=echo or (lambda line: None))
    return collect_study(planned.out, labels=labels)


@checked
def compare_commands(variants: Sequence[str] = (), *, study: str | Path | None = None, data: str | None = None,
                     data_root: str | None = None, res: int | None = None, hparams: Sequence[str] | None = None,
                     steps: int | None = None, seeds: int = 1, eval_every: int | None = None,
                     eval_n: int | None = None, set_options: Sequence[str] = (),
                     out: str | Path | None = None) -> tuple[list[str], list[str], Path]:
    """``gancli compare --print-commands``: (a shell line per unfinished run, which starts it or
    resumes it, the finished runs' names, the study folder); nothing is written."""
    planned = _study(variants, study, data, data_root, res, hparams, steps, seeds, eval_every, eval_n,
                     set_options, out)
    lines, done = commands_left(planned)
    return lines, done, planned.out


@checked
def collect_study(folder: str | Path, labels: bool = True) -> StudyReport:
    """``gancli compare --collect FOLDER``: the report of the finished runs in a study folder,
    written into it and returned (``labels``: as ``compare``'s)."""
    results = collect(folder)
    return StudyReport(results, write_study_report(results, labels=labels))


# ============================================================================================ info, plot
@checked
def info(run: str | Path | None = None) -> dict[str, Any]:
    """``gancli info``: what a checkpoint holds (``--json``'s dict): preset, model and its changed
    options, data, step, parameter counts, wall time, last metrics and evaluation."""
    return checkpoint_info(run)


@checked
def plot(run: str | Path | None = None, out: str | Path | None = None) -> tuple[Path, dict[str, int]]:
    """``gancli plot``: the run's curves as one PNG (default RUN/curves.png); (the path, the points
    drawn per curve)."""
    return plot_run(run, None if out is None else Path(out))


# ============================================================================================ export
@checked
def export_generator(run: str | Path | None = None, format: str = "torchscript", out: str | Path | None = None,
                     ema: bool | None = None, direction: str | None = None, force: bool = False):
    """``gancli export``: writes the generator (CycleGAN: a translator) as TorchScript or ONNX with
    its JSON contract beside it, after checking it against the checkpoint's network; returns an
    ``ExportResult`` (``path``, ``contract_path``, ``contract``, ``max_abs_diff``, ...).
    (Named ``export_generator`` because ``gancli.export`` is the package.)"""
    return export_model(ExportRequest(target=run, format=format, out=None if out is None else Path(out), ema=ema,
                                      direction=direction, force=force))


# ============================================================================================ report
@checked
def write_report(run: str | Path | None = None, out: str | Path | None = None,
                 points: Sequence[str | tuple[int, int]] = (), seed: int = RunReportRequest.seed,
                 device: str = "auto") -> Path:
    """``gancli report``: writes the run's self-contained HTML page (default ``RUN/report.html``)
    and returns its path. (Named ``write_report`` because ``gancli.report`` is the package.)"""
    req = RunReportRequest(points=[p if isinstance(p, str) else f"{p[0]},{p[1]}" for p in points], seed=seed)
    req.check()  # a bad point or seed fails before the checkpoint is even read
    return write_run_report(run, req, out, device=resolve_device(device)).path


__all__ = ["LoadedRun", "StudyReport", "TrainPlan", "WrittenSamples", "collect_study", "compare", "compare_commands", "info",
           "plot", "attention_maps", "evaluate", "export_generator", "load", "plan_training",
           "sample", "sn_check", "train", "train_config", "translate", "translate_images", "write_attention_maps",
           "write_report", "write_samples"]
