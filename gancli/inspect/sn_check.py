"""``gancli sn-check``: the audit of gancli.inspect.spectral_audit, on a checkpoint or a fresh model."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gancli.config import RUNS_ROOT, ModelConfig, SnRequest
from gancli.errors import GancliError
from gancli.inspect.spectral_audit import (NetAudit, audit_layers, gradient_norms, lipschitz_bound, net_dict,
                                           not_covered, record_inputs)


def _models(target, req: SnRequest, runs_root) -> tuple[Any, torch.nn.Module, torch.nn.Module, dict, dict, str, int]:
    """(model config, G, D, dataset description, train config, source line, step)."""
    from gancli.methods import load_run_checkpoint
    from gancli.models import build_models, resolve_model

    if req.model is not None:
        if target is not None:
            raise GancliError("give a checkpoint or --model (a fresh model), not both")
        options = {"name": req.model, "res": req.res, "n_classes": req.n_classes,
                   "d_norm": req.d_norm}
        if req.ch is not None:
            options["ch"] = req.ch
        cfg = resolve_model(ModelConfig(**options))
        torch.manual_seed(req.seed)
        G, D = build_models(cfg)
        return cfg, G, D, {}, {}, f"fresh {cfg.name} at {cfg.res}px", 0
    ckpt = load_run_checkpoint(target, runs_root)
    G, _ = ckpt.network("G", ema=False)  # the trained G: its u, v are the ones training used (G_ema copies them)
    D, _ = ckpt.network("D", ema=False)
    return (ckpt.model_config, G, D, ckpt.dataset, ckpt.train_config,
            f"{ckpt.path} ({ckpt.how}; step {ckpt.step})", ckpt.step)


def _real_batch(train_config: dict, cfg, n: int, seed: int) -> tuple[torch.Tensor | None, torch.Tensor | None, str | None]:
    """n training images (and labels) of the checkpoint's run, or (None, None, why not)."""
    from gancli.data import run_dataset

    if not train_config.get("dataset"):
        return None, None, "no training data recorded"
    try:
        ds = run_dataset(train_config, cfg.res, cond=cfg.label_kind != "none")
    except GancliError as err:
        return None, None, str(err)
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    x, y = ds.get_batch(pick)
    return x, (y if cfg.label_kind != "none" else None), None


def sn_check(target: str | Path | None, req: SnRequest, runs_root: str | Path = RUNS_ROOT) -> dict[str, Any]:
    """The whole audit as a JSON-able dict: source, per-net layer rows, D's bound and gradients.

    Labels for G and D are drawn as the training data has them (uniformly for a fresh model)."""
    from gancli.models import MODELS
    from gancli.sampling import labels_like_data

    req.check()
    cfg, G, D, dataset, train_config, source, step = _models(target, req, runs_root)
    g = torch.Generator().manual_seed(req.seed)

    if req.warmup:
        G.train()
        D.train()
        with torch.no_grad():
            for _ in range(req.warmup):  # each training-mode forward runs one power iteration per SN layer
                y = labels_like_data(cfg, dataset, 8, g)
                D(torch.rand(8, cfg.channels, cfg.res, cfg.res, generator=g) * 2 - 1, y)
                G(torch.randn(8, cfg.z_dim, generator=g), y)
    G.eval()
    D.eval()
    z = torch.randn(req.n, cfg.z_dim, generator=g)
    y_fake = labels_like_data(cfg, dataset, req.n, g)
    with torch.no_grad():
        fake = G(z, y_fake)
    report: dict[str, Any] = {"source": source, "step": step, "model": cfg.name, "resolution": cfg.res,
                              "d_norm": cfg.d_norm,
                              "tol": req.tol, "power_iterations": req.iters, "power_rtol": req.rtol, "nets": {}}
    if req.net in ("g", "both"):
        shapes = record_inputs(G, lambda: G(z[:2], None if y_fake is None else y_fake[:2]))
        report["nets"]["G"] = net_dict(NetAudit("G", audit_layers(G, "G", shapes, req.iters, req.tol, req.rtol),
                                                not_covered=not_covered(G)))
    if req.net in ("d", "both"):
        last_shape: dict[str, tuple[int, ...]] = {}
        hook = None
        if hasattr(D, "blocks") and hasattr(D, "features"):  # ResNet D: global sum pooling after the blocks
            def remember(module, args, out) -> None:  # returns None: a forward hook's return would replace out
                last_shape.setdefault("x", tuple(out.shape[1:]))

            hook = D.blocks[-1].register_forward_hook(remember)
        shapes = record_inputs(D, lambda: D(fake[:2], None if y_fake is None else y_fake[:2]))
        if hook is not None:
            hook.remove()
        # a D with --d-norm bn, ln, wn or none has no SN by design: its rows are exempt, not failures
        layers = audit_layers(D, "D", shapes, req.iters, req.tol, req.rtol, no_sn_by_design=cfg.d_norm != "sn")
        pooling = 1.0
        if "x" in last_shape:
            pooling = (last_shape["x"][1] * last_shape["x"][2]) ** 0.5  # ||sum over H*W|| = sqrt(H*W)
        audit = NetAudit("D", layers, lipschitz_bound(layers) * pooling, pooling, not_covered(D),
                         normalization=cfg.d_norm)
        if MODELS.get(cfg.name).autoencoder_d:
            audit.not_covered.insert(0, "an autoencoder D: the product is for x -> D(x), a reconstruction; the "
                                        "gradient norms are of L(x) = mean |x - D(x)|")
        batches = {"generated": (fake, y_fake)}
        real, y_real, why = (_real_batch(train_config, cfg, req.n, req.seed) if req.model is None
                             else (None, None, "fresh model"))
        if real is not None:
            eps = torch.rand(len(real), 1, 1, 1, generator=g)
            k = min(len(real), len(fake))
            batches = {"real": (real, y_real), "generated": (fake, y_fake),
                       "interpolated": (eps[:k] * real[:k] + (1 - eps[:k]) * fake[:k],
                                        None if y_real is None else y_real[:k])}
        else:
            report["real_images"] = f"not used: {why}"
        audit.gradient_norms = gradient_norms(D, batches)
        report["nets"]["D"] = net_dict(audit)
    report["drifted"] = [row["name"] for net in report["nets"].values() for row in net["layers"] if row["drifted"]]
    report["not_normalized"] = [row["name"] for net in report["nets"].values() for row in net["layers"]
                                if not row["normalized"] and not row["exempt"]]
    return report
