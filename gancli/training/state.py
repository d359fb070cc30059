"""A run's training state: what a checkpoint holds to continue exactly (``training_state``), how it
is put back (``restore_state``), and the check that nothing NaN or Inf is ever saved (``save_state``)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as torch_dist

from gancli import __version__
from gancli.errors import GancliError
from gancli.training.rundir import RunDir


def save_state(trainer, run: RunDir, last_ckpt: Path | None) -> Path | None:
    """Checks the training state for NaN / Inf (never saved as "the last good one") and saves it;
    the newest checkpoint's path."""
    state = trainer.state()
    bad = non_finite_tensors(state)
    if bad:
        where = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written yet"
        raise GancliError(f"the weights became NaN or Inf by step {trainer.step} ({', '.join(bad[:3])}"
                          f"{', ...' if len(bad) > 3 else ''}); not saved, training stopped ({where})")
    return run.save_checkpoint(state, trainer.step) or last_ckpt


def non_finite_tensors(state: dict) -> list[str]:
    """Names of the tensors of a training state (networks, EMA, optimizer moments) that hold NaN
    or Inf; checked before every save so a broken model is never saved as "the last good one"."""
    bad = []

    def visit(value, name):
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                visit(item, f"{name}[{i}]")

    for part in ("networks", "ema", "optimizers", "method_state"):
        visit(state.get(part), part)
    return bad


def training_state(trainer) -> dict:
    """Everything a checkpoint holds to continue the run exactly: the only place its keys are written
    (``restore_state`` reads them back)."""
    return {
        "gancli_version": __version__,
        "method": trainer.method.name,
        "method_state": trainer.method.state_dict(),
        "model_config": trainer.model_cfg.to_dict(),
        "train_config": trainer.cfg.to_dict(),
        "dataset": trainer.dataset_info,
        "step": trainer.step,
        "networks": {name: net.state_dict() for name, net in trainer.method.nets.items()},
        "ema": {name: ema.model.state_dict() for name, ema in trainer.emas.items()},
        "optimizers": {name: opt.state_dict() for name, opt in trainer.method.optimizers.items()},
        "scaler": trainer.scaler.state_dict() if trainer.scaler else None,
        "rng": rng_state(),
        "rng_ranks": _rng_of_ranks(trainer),
        "world": trainer.dist.world,
        "data_position": (trainer.streams[None].state() if None in trainer.streams
                          else {domain: stream.state() for domain, stream in trainer.streams.items()}),
    }


def rng_state() -> dict:
    """This process's random state (CPU, and every CUDA device)."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _rng_of_ranks(trainer) -> list[dict] | None:
    """Every rank's random state, gathered to each (a collective: every rank saves together)."""
    if not trainer.dist.enabled:
        return None
    gathered: list = [None] * trainer.dist.world
    torch_dist.all_gather_object(gathered, rng_state())
    return gathered


def restore_state(trainer, state: dict) -> None:
    """Puts a checkpoint's training state (``training_state``) back into ``trainer``; a state that
    does not fit the run (another process count, method, network) is an error."""
    world = state.get("world")
    if isinstance(world, int) and world != trainer.dist.world:
        # each process draws a batch of --batch-size: another process count changes the global
        # batch, each rank's share of the data and its stream of z
        raise GancliError(f"the checkpoint was trained on {world} process{'es' if world > 1 else ''} (a global "
                          f"batch of {world} x {trainer.cfg.batch_size}); this run has {trainer.dist.world}: resume "
                          f"it on {world} (torchrun --nproc-per-node {world} ...), or start a new run from it")
    if state.get("method", "gan") != trainer.method.name:
        raise GancliError(f"the checkpoint was trained with --method {state.get('method')}, not {trainer.method.name}")
    for name, net in trainer.method.nets.items():
        net.load_state_dict(state["networks"][name])
    for name, ema in trainer.emas.items():
        if name not in (state.get("ema") or {}):
            raise GancliError("the checkpoint has no EMA weights; resume with --no-ema")
        ema.model.load_state_dict(state["ema"][name])
    for name, opt in trainer.method.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    trainer.method.load_state_dict(state.get("method_state") or {})
    if trainer.scaler is not None and state.get("scaler"):
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.step = int(state["step"])
    for domain, stream in trainer.streams.items():
        stream.load_state(state["data_position"] if domain is None else state["data_position"][domain])
    ranks = state.get("rng_ranks")
    rng = state["rng"] if not trainer.dist.enabled else (ranks[trainer.dist.rank] if ranks else None)
    if rng is not None:  # every rank continues its own stream of z: an exact resume
        torch.set_rng_state(rng["torch"])
        if torch.cuda.is_available() and rng["cuda"]:
            torch.cuda.set_rng_state_all(rng["cuda"])
    else:  # a torchrun checkpoint from before 0.2.0 kept rank 0's state alone: reseeded from the step
        torch.manual_seed(trainer.cfg.seed * 1000 + trainer.dist.rank + 7919 * trainer.step)

