"""``export_model``: a checkpoint's generator (or a CycleGAN translator) to a file plus its contract.

Order of work, so that bad input fails before anything is written and a failure leaves nothing:
the format and its packages, the checkpoint and the network, --out and its contract path; then
the model is written to a temporary file beside --out, loaded back and run on inputs the trace
never saw (other batch sizes, other values), compared with the eager network, and only then are
the model and the contract renamed into place.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from gancli.checkpoint import usual_mode
from gancli.config import RUNS_ROOT, ExportRequest
from gancli.errors import GancliError
from gancli.export.contract import (contract_path, generator_contract, generator_signature, labels_section,
                                    translator_contract, translator_signature)
from gancli.export.exportable import (GeneratorModule, Signature, TranslatorModule, UnconditionalModule, baked_in,
                                      plain_copy)
from gancli.export.formats import FORMATS, ExportFormat, format_of_suffix
from gancli.methods import LoadedCheckpoint, load_run_checkpoint
from gancli.sampling import check_writable, draw_latents, finite_output, labels_like_data, seeded_generators
from gancli.sampling.generate import LoadedGenerator
from gancli.sampling.translation import DIRECTIONS, check_direction

#: an export whose output differs from the eager network's by more than this is refused: an eighth
#: of one uint8 level (1 / 127.5), so the exported images quantise to gancli's within one level
MAX_ABS_DIFF = 1e-3

#: batch sizes of the check after export (the trace runs at 2): one image, and a batch of 8
CHECK_BATCHES = (8, 1)
TRACE_BATCH = 2


@dataclass
class ExportResult:
    path: Path
    contract_path: Path
    format: str
    size_bytes: int
    max_abs_diff: float  # exported vs eager, over the check's inputs
    n_checked: int  # inputs compared
    network: str  # "G", "G_AB", ...
    ema: bool
    checkpoint: LoadedCheckpoint = field(repr=False)
    contract: dict[str, Any] = field(repr=False)


@dataclass
class _Source:
    """The network to export, how it is called and what its contract says."""

    name: str
    eager: nn.Module  # as loaded: what gancli sample / translate run
    module: nn.Module  # the plain, wrapped copy that is traced
    signature: Signature
    ema: bool
    direction: str | None


def export_model(req: ExportRequest, runs_root: str | Path = RUNS_ROOT) -> ExportResult:
    """Exports ``req.target``'s generator in ``req.format`` to ``req.out`` and writes the contract
    beside it; returns where, how large, and the largest difference from the eager network."""
    fmt = FORMATS.get(req.format)
    missing = fmt.missing()
    if missing:
        raise GancliError(f"--format {fmt.name} needs {', '.join(missing)} (not installed); {fmt.install}")
    ckpt = load_run_checkpoint(req.target, runs_root)
    source = _load_source(ckpt, req)
    out = Path(req.out) if req.out is not None else default_out(ckpt, source.name, source.ema, fmt)
    json_path = _check_out(out, fmt, req.force)
    if ckpt.path.resolve() in (out.resolve(), json_path.resolve()):
        raise GancliError(f"--out {out} would replace the checkpoint being exported; choose another name")
    inputs = _check_inputs(source, ckpt, req.seed)
    try:
        return _write(fmt, source, ckpt, inputs, out, json_path)
    except OSError as err:  # a full disk, a file-size limit, a folder that refuses files: nothing was left
        raise GancliError(f"cannot write {out}: {err.strerror or err}; nothing was written") from None


def _write(fmt, source: _Source, ckpt: LoadedCheckpoint, inputs, out: Path, json_path: Path) -> ExportResult:
    with _staged([out, json_path]) as (tmp_model, tmp_json):
        facts = fmt.write(source.module, source.signature, _example(source, ckpt), tmp_model)
        diff, n_checked = _compare(fmt.load(tmp_model, source.signature), source, inputs)
        if not diff <= MAX_ABS_DIFF:
            raise GancliError(f"the {fmt.name} export differs from the checkpoint's {source.name} by {diff:.3g} "
                              f"(more than {MAX_ABS_DIFF:g}); nothing was written")
        contract = _contract(fmt, out, source, ckpt, facts, {"max_abs_diff": diff, "n_inputs": n_checked,
                                                            "batch_sizes": list(CHECK_BATCHES),
                                                            "against": f"the checkpoint's {source.name} in eager "
                                                                       "PyTorch, CPU, float32"})
        tmp_json.write_text(_to_json(contract) + "\n")
        size = tmp_model.stat().st_size
    return ExportResult(out, json_path, fmt.name, size, diff, n_checked, source.name, source.ema, ckpt, contract)


def _load_source(ckpt: LoadedCheckpoint, req: ExportRequest) -> _Source:
    if ckpt.method.two_domain:
        direction = check_direction(req.direction or "a2b")
        name, source, target = DIRECTIONS[direction]
        eager, used_ema = ckpt.network(name, ema=req.ema, device="cpu")
        signature = translator_signature(ckpt.model_config, source, target)
        return _Source(name, eager, TranslatorModule(plain_copy(eager)).eval(), signature, used_ema, direction)
    if req.direction is not None:
        raise GancliError(f"--direction is for two-domain (CycleGAN) runs; {ckpt.path} is a --method "
                          f"{ckpt.method.name} run")
    eager, used_ema = ckpt.network(ema=req.ema, device="cpu")
    plain = plain_copy(eager)
    wrapped = UnconditionalModule(plain) if ckpt.model_config.label_kind == "none" else GeneratorModule(plain)
    return _Source(ckpt.method.generator, eager, wrapped.eval(), generator_signature(ckpt.model_config), used_ema, None)


def default_out(ckpt: LoadedCheckpoint, network: str, ema: bool, fmt: ExportFormat) -> Path:
    """Without --out: ``RUN/export/<format>/<network>[_ema]-step<N><suffix>`` (e.g.
    ``runs/demo/export/onnx/G_ema-step1600.onnx``), one folder per format so that each file has its
    own contract; a checkpoint outside a run directory exports into ``export/`` here."""
    base = ckpt.run_dir if ckpt.run_dir is not None else Path(".")
    return base / "export" / fmt.name / f"{network}{'_ema' if ema else ''}-step{ckpt.step}{fmt.suffix}"


def _check_out(out: Path, fmt: ExportFormat, force: bool) -> Path:
    """Refuses an --out that would clash (its own contract, another format's suffix, an existing
    file without --force, a folder, no permission); returns the contract's path."""
    json_path = contract_path(out)
    if json_path == out:
        raise GancliError(f"--out {out} is where its JSON contract goes (the model's name with .json); "
                          "name the model file, e.g. g.pt or g.onnx")
    other = format_of_suffix(out)
    if other is not None and other.name != fmt.name:
        raise GancliError(f"--out {out} ends in {out.suffix}, the suffix of {other.name} files, but --format is "
                          f"{fmt.name}; use --format {other.name} or a name ending in {fmt.suffix}")
    for path, what in ((out, "--out"), (json_path, "the contract")):
        if path.is_dir():
            raise GancliError(f"{what} {path} is a directory; give a file name")
        if path.exists() and not force:
            raise GancliError(f"{what} {path} already exists; pass --force to replace it")
        check_writable(path)
    described = _described_file(json_path)
    if described not in (None, out.name) and (json_path.parent / described).exists():
        # g.pt and g.onnx would share g.json: --force must not leave g.onnx with g.pt's contract
        raise GancliError(f"{json_path} is the contract of {described}, which is still there; give --out another "
                          f"name (its contract is the name with .json)")
    return json_path


def _described_file(json_path: Path) -> str | None:
    """The model file an existing contract describes (its "file"), if it is one."""
    try:
        file = json.loads(json_path.read_text()).get("file")
    except (OSError, ValueError, AttributeError):
        return None
    return file if isinstance(file, str) else None


def _generator_inputs(ckpt: LoadedCheckpoint, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    """z from the model's prior and labels drawn as the data has them, from gancli's seeded generators."""
    g_z, g_labels = seeded_generators(seed)
    z = draw_latents(n, ckpt.model_config, None, g_z)
    labels = labels_like_data(ckpt.model_config, ckpt.dataset, n, g_labels)
    return (z,) if labels is None else (z, labels)


def _image_inputs(ckpt: LoadedCheckpoint, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Images uniform in [-1, 1] (the check compares functions; any values in range will do)."""
    cfg = ckpt.model_config
    return (torch.rand(n, cfg.channels, cfg.res, cfg.res, generator=torch.Generator().manual_seed(seed)) * 2 - 1,)


def _draw(source: _Source, ckpt: LoadedCheckpoint, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    return (_image_inputs if source.direction else _generator_inputs)(ckpt, n, seed)


def _example(source: _Source, ckpt: LoadedCheckpoint) -> tuple[torch.Tensor, ...]:
    return _draw(source, ckpt, TRACE_BATCH, 2**31 - 1)


def _check_inputs(source: _Source, ckpt: LoadedCheckpoint, seed: int) -> list[tuple[torch.Tensor, ...]]:
    return [_draw(source, ckpt, n, seed + i) for i, n in enumerate(CHECK_BATCHES)]


@torch.no_grad()
def _eager(source: _Source, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    if source.direction:
        return finite_output(source.eager(*inputs))
    z, labels = inputs if len(inputs) == 2 else (inputs[0], None)
    return finite_output(source.eager(z, labels))


def _compare(run, source: _Source, batches: list[tuple[torch.Tensor, ...]]) -> tuple[float, int]:
    """The largest |exported - eager| over ``batches``, and how many inputs that covers."""
    diff, count = 0.0, 0
    for inputs in batches:
        expected = _eager(source, inputs)
        got = run(*inputs)
        if got.shape != expected.shape:
            raise GancliError(f"the export returned {tuple(got.shape)} for a batch of {len(inputs[0])}, "
                              f"the network {tuple(expected.shape)}; nothing was written")
        diff = max(diff, float((got.float() - expected).abs().max()))
        count += len(inputs[0])
    return diff, count


def _contract(fmt: ExportFormat, out: Path, source: _Source, ckpt: LoadedCheckpoint, facts: dict,
              verified: dict) -> dict[str, Any]:
    cfg = ckpt.model_config
    info = {"checkpoint": str(ckpt.path), "run": None if ckpt.run_dir is None else str(ckpt.run_dir),
            "step": ckpt.step, "method": ckpt.method.name, "network": source.name,
            "weights": "EMA" if source.ema else "raw"}
    common = dict(fmt=fmt.name, file=out.name, usage=fmt.usage(out.name, source.signature), signature=source.signature,
                  model_config=cfg, source=info, facts=facts, verified=verified,
                  baked_in=baked_in(source.eager))
    if source.direction:
        return translator_contract(direction=source.direction, **common)
    gen = LoadedGenerator(source.eager, source.ema, ckpt)  # for its class and attribute names
    return generator_contract(labels=labels_section(cfg, ckpt.dataset, gen.class_names, gen.attr_names), **common)


def _to_json(value: Any, depth: int = 0) -> str:
    """JSON with two-space indents, lists of plain values on one line (shapes, names, code lines
    stay readable)."""
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_to_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and (any(isinstance(v, (dict, list)) for v in value)
                                    or len(json.dumps(value)) > 100):
        return "[\n" + ",\n".join(inner + _to_json(v, depth + 1) for v in value) + f"\n{pad}]"
    return json.dumps(value)


@contextlib.contextmanager
def _staged(paths: list[Path]) -> Iterator[list[Path]]:
    """A temporary file beside each of ``paths`` to write; all renamed into place when the block ends
    without error, all removed when it fails: no half-written file is ever at ``paths``."""
    temps: list[Path] = []
    made = [d for d in {p.parent.absolute() for p in paths} for d in (d, *d.parents) if not d.exists()]
    done = False
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield temps
        for tmp, path in zip(temps, paths):
            os.chmod(tmp, usual_mode())  # mkstemp makes 0600
            os.replace(tmp, path)
        done = True
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if not done:  # and the folders made for them
            for folder in sorted(set(made), key=lambda d: len(d.parts), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()

