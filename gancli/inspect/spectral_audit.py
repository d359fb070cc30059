"""``gancli sn-check``: audit spectral normalization (Miyato et al. 2018) and D's Lipschitz bound.

For every conv / transposed conv / linear / embedding layer of a network:

- sigma_hat = u^T W v, the running estimate training divided by (from the stored u, v);
- sigma_mat(W) = ||W_mat||_2, the exact largest singular value of the weight reshaped to
  (out, in*k*h) (torch.linalg.matrix_norm), and sigma_mat of the weight the layer actually uses,
  W / sigma_hat (times K with a target norm): SN works when that is K (1 by default);
- sigma_op, the operator norm of the layer on the input size it really gets. A convolution is a
  much larger, structured matrix than W_mat: sigma_op can be below sigma_mat (zero padding, strides)
  or above it (up to sqrt(k*k) times: overlapping windows sum the same weights), so it is computed
  by power iteration on A^T A, with A = conv (or conv_transpose) and A^T by autograd, until the
  estimate changes by less than ``rtol``. For linear layers sigma_op = sigma_mat; for a label
  embedding (a projection D's <embed(y), phi(x)>) sigma_op is its largest row norm, the largest
  Lipschitz constant of that term in phi(x) over classes.

The product of sigma_op over D's layers (and sqrt(H*W) for a global sum pooling) bounds D's
Lipschitz constant for a plain feed-forward chain with activations of slope <= 1. It does not
cover residual sums (a ResNet block is bounded by sigma(main path) + sigma(shortcut), not by the
product), self-attention (x + gamma * softmax(...) v is not a fixed linear map), batch norm
(divides by a batch statistic), layer norm (divides by each sample's own statistic) or weight norm
(W = g v / ||v||: a learned scale g that nothing bounds); those parts are listed. The empirical
check: the largest ||grad_x D(x)|| over real, generated and interpolated images.

A D built without spectral norm (``--d-norm bn|ln|wn|none``) is not normalised by design: its rows
are marked exempt, not "not normalized", and the audit still reports every norm and gradient.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from gancli.layers.norm import norm_layers
from gancli.layers.spectral import NO_SN_ATTR, SN_TYPES, TargetNorm, raw_weight
from gancli.layers import SelfAttention, resample


@dataclass
class LayerAudit:
    name: str
    kind: str  # conv3x3 s1, convT4x4 s2, linear, embedding
    matrix: tuple[int, int]  # shape of W_mat
    input_shape: tuple[int, ...] | None  # (C, H, W) or (F,) as seen in the forward pass
    normalized: bool
    exempt: bool  # kept un-normalised on purpose (CBN gains, BigGAN's shared embedding, a D with --d-norm != sn)
    target: float  # K
    sigma_hat: float | None  # u^T W v
    sigma_mat_raw: float  # ||W_mat||_2 of the raw weight
    sigma_mat: float  # ||W_mat||_2 of the weight used in the forward pass
    sigma_op: float | None  # operator norm on the real input size (None: layer not reached)
    op_iterations: int = 0
    op_converged: bool = True
    drifted: bool = False  # |sigma_mat / K - 1| > tol


@dataclass
class NetAudit:
    net: str  # "G" or "D"
    layers: list[LayerAudit]
    lipschitz_bound: float | None = None  # D: product of sigma_op (chain layers) x pooling factor
    pooling_factor: float = 1.0
    not_covered: list[str] = field(default_factory=list)
    gradient_norms: dict[str, float] = field(default_factory=dict)  # D: max ||grad_x D|| per input kind
    normalization: str | None = None  # D: its --d-norm (sn, bn, ln, wn, none)


def _kind(module: nn.Module) -> str:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        k = "x".join(str(s) for s in module.kernel_size)
        name = "convT" if isinstance(module, nn.ConvTranspose2d) else "conv"
        return f"{name}{k} s{module.stride[0]}" + (f" p{module.padding[0]}" if module.padding[0] else "")
    return "embedding" if isinstance(module, nn.Embedding) else "linear"


def weight_matrix(module: nn.Module, weight: torch.Tensor) -> torch.Tensor:
    """W reshaped as SN reshapes it: (out, rest), with dim 1 first for transposed convs (torch's rule)."""
    if isinstance(module, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return weight.reshape(weight.shape[0], -1)


def sn_parts(module: nn.Module) -> tuple[Any | None, float]:
    """(torch's _SpectralNorm parametrization or None, target norm K)."""
    if not parametrize.is_parametrized(module, "weight"):
        return None, 1.0
    sn, target = None, 1.0
    for p in module.parametrizations.weight:
        if type(p).__name__ == "_SpectralNorm":
            sn = p
        elif isinstance(p, TargetNorm):
            target = p.target
    return sn, target


def sigma_hat(module: nn.Module) -> float | None:
    """u^T W_mat v with the stored vectors: the sigma the forward pass divides by."""
    sn, _ = sn_parts(module)
    if sn is None:
        return None
    w = sn._reshape_weight_to_matrix(raw_weight(module).detach())
    return float(torch.vdot(sn._u, torch.mv(w, sn._v)))


def used_weight(module: nn.Module) -> torch.Tensor:
    """The weight the forward pass uses, computed with the stored u, v (no power-iteration update)."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        w = module.weight.detach().clone()
    module.train(was_training)
    return w


def operator_norm(module: nn.Module, weight: torch.Tensor, input_shape: tuple[int, ...], iters: int = 100,
                  rtol: float = 1e-4, seed: int = 0) -> tuple[float, int, bool]:
    """Largest singular value of the linear map x -> layer(x) (bias dropped) on inputs of
    ``input_shape`` (C, H, W), by power iteration on A^T A; A^T through autograd.

    Returns (sigma, iterations, converged: the last relative change < rtol)."""
    weight = weight.detach().double()
    if isinstance(module, nn.Conv2d):
        def A(x):
            return F.conv2d(x, weight, None, module.stride, module.padding, module.dilation, module.groups)
    elif isinstance(module, nn.ConvTranspose2d):
        def A(x):
            return F.conv_transpose2d(x, weight, None, module.stride, module.padding, module.output_padding,
                                      module.groups, module.dilation)
    else:
        raise TypeError(f"operator_norm is for convolutions, got {type(module).__name__}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((1, *input_shape), generator=g, dtype=torch.float64)
    x /= x.norm()
    sigma, converged, it = 0.0, False, 0
    for it in range(1, iters + 1):
        x.requires_grad_(True)
        y = A(x)
        (grad,) = torch.autograd.grad(y, x, grad_outputs=y)  # A^T A x
        new_sigma = float(y.detach().norm())
        x = (grad / grad.norm()).detach()
        if it > 1 and abs(new_sigma - sigma) <= rtol * max(new_sigma, 1e-30):
            sigma, converged = new_sigma, True
            break
        sigma = new_sigma
    with torch.no_grad():
        sigma = max(sigma, float(A(x).norm()))  # ||A x|| for the final unit x: a lower bound that only grows
    return sigma, it, converged


def record_inputs(net: nn.Module, run) -> dict[str, tuple[int, ...]]:
    """Per-sample input shape of every layer SN could apply to, from one forward pass ``run()``."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, module in net.named_modules():
        if isinstance(module, SN_TYPES):
            def hook(mod, args, name=name):
                if args and torch.is_tensor(args[0]) and name not in shapes:
                    shapes[name] = tuple(args[0].shape[1:])
            hooks.append(module.register_forward_pre_hook(hook))

    try:
        # textbook resampling: every conv is called as a module on the input the paper's block gives
        # it (the folded fast path calls some weights functionally, on other shapes)
        with torch.no_grad(), resample.textbook():
            run()
    finally:
        for h in hooks:
            h.remove()
    return shapes


def audit_layers(net: nn.Module, prefix: str, input_shapes: dict[str, tuple[int, ...]], iters: int = 100,
                 tol: float = 0.05, rtol: float = 1e-4, no_sn_by_design: bool = False) -> list[LayerAudit]:
    """One row per conv / linear / embedding layer. ``no_sn_by_design``: the network is built without
    spectral norm (a D with ``--d-norm`` bn, ln, wn or none), so its un-normalised rows are exempt."""
    rows = []
    for name, module in net.named_modules():
        if not isinstance(module, SN_TYPES):
            continue
        sn, target = sn_parts(module)
        raw = raw_weight(module).detach()
        used = used_weight(module)
        mat_raw = float(torch.linalg.matrix_norm(weight_matrix(module, raw).double(), 2))
        mat_used = float(torch.linalg.matrix_norm(weight_matrix(module, used).double(), 2))
        shape = input_shapes.get(name)
        iterations, converged = 0, True
        if isinstance(module, nn.Embedding):
            op = float(used.double().norm(dim=1).max())
        elif isinstance(module, nn.Linear):
            op = mat_used
        elif shape is None:
            op = None
        else:
            op, iterations, converged = operator_norm(module, used, shape, iters, rtol)
        normalized = sn is not None
        rows.append(LayerAudit(
            name=f"{prefix}.{name}", kind=_kind(module), matrix=tuple(weight_matrix(module, raw).shape),
            input_shape=shape, normalized=normalized,
            exempt=bool(getattr(module, NO_SN_ATTR, False)) or (no_sn_by_design and not normalized),
            target=target, sigma_hat=sigma_hat(module), sigma_mat_raw=mat_raw, sigma_mat=mat_used, sigma_op=op,
            op_iterations=iterations, op_converged=converged,
            drifted=normalized and abs(mat_used / target - 1.0) > tol))
    return rows


def lipschitz_bound(layers: list[LayerAudit]) -> float:
    """Product of sigma_op over the chain: every conv / linear layer reached in the forward pass
    (label embeddings are a side term, not a link of the chain)."""
    bound = 1.0
    for layer in layers:
        if layer.kind != "embedding" and layer.sigma_op is not None:
            bound *= layer.sigma_op
    return bound


def not_covered(net: nn.Module) -> list[str]:
    """The parts of ``net`` the product bound ignores, named."""

    parts = []
    residual = [n for n, m in net.named_modules() if getattr(m, "residual", False)]  # blocks that say so
    if residual:
        parts.append(f"residual sums in {len(residual)} blocks (a block's bound is sigma(main) + sigma(shortcut))")
    attention = [n for n, m in net.named_modules() if isinstance(m, SelfAttention)]
    if attention:
        parts.append(f"self-attention ({', '.join(attention)}): x + gamma * softmax(q k^T) v is not a fixed linear map")
    norms = norm_layers(net)
    if norms["bn"]:
        parts.append(f"batch norm ({len(norms['bn'])} layers): divides by batch statistics (in training the output "
                     "of one sample depends on the batch; in eval mode, as here, it scales each channel by "
                     "gamma / sqrt(running_var + eps))")
    if norms["ln"]:
        parts.append(f"layer norm ({len(norms['ln'])} layers): divides each sample by its own standard deviation "
                     "over (C, H, W), which has no Lipschitz bound as that deviation goes to 0")
    if norms["wn"]:
        parts.append(f"weight norm ({len(norms['wn'])} layers): W = g * v / ||v|| per output channel; the product "
                     "uses these weights, but g is learned and nothing bounds it in training")
    instance = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    if instance:
        parts.append(f"instance norm ({len(instance)} layers): divides each channel of each sample by its own "
                     "standard deviation over (H, W), which has no Lipschitz bound as that deviation goes to 0")
    upsampling = [m for m in net.modules() if isinstance(m, nn.Upsample)]
    if upsampling:
        parts.append(f"nearest upsampling ({len(upsampling)} layers): each multiplies the norm by its scale factor "
                     "(2 for 2x)")
    embeddings = [n for n, m in net.named_modules() if isinstance(m, nn.Embedding)]
    if embeddings:
        parts.append("the projection term <embed(y), phi(x)>: adds max_y ||embed(y)|| (the embedding's sigma_op) "
                     "to the last layer's norm")
    return parts


def gradient_norms(D: nn.Module, batches: dict[str, tuple[torch.Tensor, torch.Tensor | None]]) -> dict[str, float]:
    """max_i ||d D(x_i) / d x_i||_2 over each batch (D in eval mode: no SN update, no dropout).
    An autoencoder D (BEGAN, EBGAN) returns a reconstruction, not a logit: its scalar per sample
    is then the reconstruction loss L(x) = mean |x − D(x)| (BEGAN's; EBGAN's energy squares it).
    A PatchGAN (CycleGAN) returns a map of patch logits: its scalar is their mean."""
    out = {}
    for kind, (x, y) in batches.items():
        x = x.detach().clone().requires_grad_(True)
        logits = D(x, y)
        if logits.shape == x.shape:  # an autoencoder D: its reconstruction loss
            logits = (x - logits).abs().flatten(1).mean(1)
        elif logits.dim() > 1:  # a PatchGAN: the mean of its patch logits (what its loss averages over)
            logits = logits.flatten(1).mean(1)
        (grad,) = torch.autograd.grad(logits.sum(), x)  # samples are independent: per-sample gradients
        out[kind] = float(grad.flatten(1).norm(dim=1).max())
    return out


def net_dict(audit: NetAudit) -> dict[str, Any]:
    d = asdict(audit)
    for layer in d["layers"]:
        layer["matrix"] = list(layer["matrix"])
        layer["input_shape"] = list(layer["input_shape"]) if layer["input_shape"] is not None else None
    return d


__all__ = ["LayerAudit", "NetAudit", "audit_layers", "operator_norm", "sigma_hat", "lipschitz_bound", "not_covered",
           "gradient_norms", "record_inputs", "weight_matrix", "net_dict"]
