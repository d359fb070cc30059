"""``gancli sn-check``: the audit of gancli.inspect.spectral_audit, on a checkpoint or a fresh model."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gancli.config import RUNS_ROOT, ModelConfig, SnRequest
from gancli.data import run_dataset
from gancli.errors import GancliError
from gancli.inspect.spectral_audit import (NetAudit, audit_layers, gradient_norms, lipschitz_bound, net_dict,
                                           not_covered, record_inputs)
from gancli.methods import METHODS, load_run_checkpoint
from gancli.methods.cyclegan import test_images
from gancli.models import MODELS, build_models, draw_z, resolve_model
from gancli.sampling import labels_like_data
from gancli.sampling.translation import run_pair_data


def _models(target, req: SnRequest, runs_root) -> tuple[Any, torch.nn.Module, torch.nn.Module, dict, dict, str, int]:
    """(model config, G, D, dataset description, train config, source line, step)."""
    if req.model is not None:
        if target is not None:
            raise GancliError("give a checkpoint or --model (a fresh model), not both")
        options = {"name": req.model, "res": req.res, "n_classes": req.n_classes,
                   "d_norm": req.d_norm}
        if req.ch is not None:
            options["ch"] = req.ch
        cfg = resolve_model(ModelConfig(**options))
        if MODELS.get(cfg.name).translator:
            raise _TranslationRun(None, cfg)
        torch.manual_seed(req.seed)
        G, D = build_models(cfg)
        return cfg, G, D, {}, {}, f"fresh {cfg.name} at {cfg.res}px", 0
    ckpt = load_run_checkpoint(target, runs_root)
    if ckpt.method.two_domain:
        raise _TranslationRun(ckpt)
    G, _ = ckpt.network("G", ema=False)  # the trained G: its u, v are the ones training used (G_ema copies them)
    D, _ = ckpt.network("D", ema=False)
    return (ckpt.model_config, G, D, ckpt.dataset, ckpt.train_config,
            f"{ckpt.path} ({ckpt.how}; step {ckpt.step})", ckpt.step)


class _TranslationRun(Exception):
    """A translation checkpoint (or fresh translator model): audited by :func:`translation_sn_check`."""

    def __init__(self, checkpoint, model_config=None):
        super().__init__()
        self.checkpoint = checkpoint
        self.model_config = model_config if model_config is not None else checkpoint.model_config


def translation_sn_check(ckpt, cfg, req: SnRequest) -> dict[str, Any]:
    """The audit of a CycleGAN run (``ckpt``) or a fresh cyclegan model (``ckpt`` None): ``--net g``
    audits G_AB and G_BA on real images of their input domain, ``--net d`` D_A and D_B with the
    gradient norms on real, translated and interpolated images of their domain. Real images are
    the run's test split (uniform noise for a fresh model); the patch-logit map is averaged."""
    g = torch.Generator().manual_seed(req.seed)
    if ckpt is None:
        torch.manual_seed(req.seed)
        method = METHODS.get("cyclegan")
        nets = {name: method.build_network(cfg, name) for name in method.network_names(cfg)}
        source, step, why = f"fresh {cfg.name} at {cfg.res}px", 0, "fresh model"
        real = {d: torch.rand(req.n, cfg.channels, cfg.res, cfg.res, generator=g) * 2 - 1 for d in ("A", "B")}
    else:
        nets = {name: ckpt.network(name, ema=False)[0] for name in ckpt.network_names}
        source, step, why = f"{ckpt.path} ({ckpt.how}; step {ckpt.step})", ckpt.step, None
        try:
            layout = test_images(run_pair_data(ckpt, "test"), req.n, req.seed)
            real = {"A": layout.a, "B": layout.b}
        except GancliError as err:
            real, why = {d: torch.rand(req.n, cfg.channels, cfg.res, cfg.res, generator=g) * 2 - 1 for d in ("A", "B")}, str(err)
    for net in nets.values():
        if req.warmup:
            net.train()
            with torch.no_grad():
                for _ in range(req.warmup):
                    net(torch.rand(2, cfg.channels, cfg.res, cfg.res, generator=g) * 2 - 1)
        net.eval()
    with torch.no_grad():
        fake = {"B": nets["G_AB"](real["A"]), "A": nets["G_BA"](real["B"])}
    report: dict[str, Any] = {"source": source, "step": step, "model": cfg.name, "resolution": cfg.res,
                              "d_norm": cfg.d_norm, "tol": req.tol, "power_iterations": req.iters,
                              "power_rtol": req.rtol, "nets": {}}
    chosen = [n for n, kind in (("G_AB", "g"), ("G_BA", "g"), ("D_A", "d"), ("D_B", "d")) if req.net in (kind, "both")]
    for name in chosen:
        net = nets[name]
        domain = {"G_AB": "A", "G_BA": "B", "D_A": "A", "D_B": "B"}[name]
        x = real[domain][:2]
        shapes = record_inputs(net, lambda: net(x))
        exempt = cfg.d_norm != "sn" if name.startswith("D") else True  # no SN in the generators by design
        layers = audit_layers(net, name, shapes, req.iters, req.tol, req.rtol, no_sn_by_design=exempt)
        if name.startswith("D"):
            audit = NetAudit(name, layers, lipschitz_bound(layers), 1.0, not_covered(net), normalization=cfg.d_norm)
            k = min(len(real[domain]), len(fake[domain]))
            eps = torch.rand(k, 1, 1, 1, generator=g)
            audit.gradient_norms = gradient_norms(net, {
                "real": (real[domain], None), "translated": (fake[domain], None),
                "interpolated": (eps * real[domain][:k] + (1 - eps) * fake[domain][:k], None)})
            audit.not_covered.insert(0, "a PatchGAN: the product bounds each patch logit; the gradient norms are "
                                        "of the mean patch logit")
        else:
            audit = NetAudit(name, layers, not_covered=not_covered(net))
        report["nets"][name] = net_dict(audit)
    if why:
        report["real_images"] = f"not used: {why}"
    report["drifted"] = [row["name"] for net in report["nets"].values() for row in net["layers"] if row["drifted"]]
    report["not_normalized"] = [row["name"] for net in report["nets"].values() for row in net["layers"]
                                if not row["normalized"] and not row["exempt"]]
    return report


def _real_batch(train_config: dict, cfg, n: int, seed: int) -> tuple[torch.Tensor | None, torch.Tensor | None, str | None]:
    """n training images (and labels) of the checkpoint's run, or (None, None, why not)."""
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
    req.check()
    try:
        cfg, G, D, dataset, train_config, source, step = _models(target, req, runs_root)
    except _TranslationRun as run:
        return translation_sn_check(run.checkpoint, run.model_config, req)
    g = torch.Generator().manual_seed(req.seed)

    if req.warmup:
        G.train()
        D.train()
        with torch.no_grad():
            for _ in range(req.warmup):  # each training-mode forward runs one power iteration per SN layer
                y = labels_like_data(cfg, dataset, 8, g)
                D(torch.rand(8, cfg.channels, cfg.res, cfg.res, generator=g) * 2 - 1, y)
                G(draw_z(8, cfg, generator=g), y)
    G.eval()
    D.eval()
    z = draw_z(req.n, cfg, generator=g)
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
