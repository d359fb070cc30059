"""The one way every command loads the networks of a checkpoint.

    ckpt = load_run_checkpoint("runs/x")              # a file, a run directory, or None = newest run
    G, used_ema = ckpt.network(ema=None)              # the method's generator, EMA weights if saved
    D, _ = ckpt.network("D")

The checkpoint says its method; the method says which networks exist and how to build them from
the saved model config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancli.checkpoint import load_checkpoint, resolve_checkpoint, run_dir_of
from gancli.config import RUNS_ROOT, ModelConfig
from gancli.errors import GancliError
from gancli.methods.base import METHODS, Method
from gancli.models import resolve_model


@dataclass
class LoadedCheckpoint:
    path: Path  # the checkpoint file
    how: str  # how the path was found ("run directory", "newest run under runs", ...)
    state: dict[str, Any] = field(repr=False)
    method: type[Method]
    model_config: ModelConfig

    @property
    def step(self) -> int:
        return int(self.state.get("step", 0))

    @property
    def dataset(self) -> dict[str, Any]:
        return dict(self.state.get("dataset") or {})

    @property
    def train_config(self) -> dict[str, Any]:
        return dict(self.state.get("train_config") or {})

    @property
    def run_dir(self) -> Path | None:
        return run_dir_of(self.path)

    @property
    def network_names(self) -> tuple[str, ...]:
        return self.method.network_names(self.model_config)

    def has_ema(self, name: str | None = None) -> bool:
        return (name or self.method.generator) in (self.state.get("ema") or {})

    def network(self, name: str | None = None, ema: bool | None = None,
                device: str | torch.device = "cpu") -> tuple[nn.Module, bool]:
        """Network ``name`` (default: the method's generator) with the checkpoint's weights, in eval
        mode without gradients, on ``device``; and whether those are EMA weights.

        ``ema``: None = the EMA weights when the checkpoint has them; True = EMA (an error
        without); False = the raw training weights (whose SN vectors u, v training used)."""
        name = name or self.method.generator
        if name not in self.network_names:
            raise GancliError(f"{self.path}: a {self.method.name} checkpoint has no network {name!r} "
                              f"(it has {', '.join(self.network_names)})")
        if ema and not self.has_ema(name):
            raise GancliError(f"{self.path} has no EMA weights of {name} (trained with --no-ema); drop --ema")
        use_ema = self.has_ema(name) if ema is None else ema
        weights = (self.state.get("ema") if use_ema else self.state.get("networks") or {}).get(name)
        if weights is None:
            raise GancliError(f"{self.path} holds no weights of {name}; it is not a complete gancli checkpoint")
        try:
            net = self.method.build_network(self.model_config, name)
            net.load_state_dict(weights)
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            raise GancliError(f"{self.path}: its {_role(name)} does not match its model config "
                              f"({str(err).strip().splitlines()[0]})") from None
        return net.to(device).eval().requires_grad_(False), use_ema


def _role(name: str) -> str:
    return {"G": "generator", "D": "discriminator"}.get(name, f"network {name}")


def load_run_checkpoint(target: str | Path | None, runs_root: str | Path = RUNS_ROOT) -> LoadedCheckpoint:
    """Resolves ``target`` (a checkpoint, a run directory, or None = the newest run under
    ``runs_root``), loads it with ``weights_only=True`` and reads its method and model config."""
    path, how = resolve_checkpoint(target, runs_root)
    state = load_checkpoint(path)
    try:
        method = METHODS.get(state.get("method", "gan"))
    except GancliError as err:
        raise GancliError(f"{path}: {err}") from None
    try:
        model_config = resolve_model(ModelConfig.from_dict(state["model_config"]))
    except (KeyError, TypeError, ValueError, GancliError) as err:
        raise GancliError(f"{path}: its model config is missing or unusable ({err})") from None
    return LoadedCheckpoint(path, how, state, method, model_config)
