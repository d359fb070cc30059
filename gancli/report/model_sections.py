"""The parts of a run's page that run its networks: the truncation sweep (or a translation run's
sheet), G's attention maps and the spectral-norm audit. Each returns the section's HTML or raises
GancliError saying why the part cannot be shown (the page turns that into a note)."""
from __future__ import annotations

from typing import Any

from gancli.config import AttnRequest, SnRequest
from gancli.errors import GancliError
from gancli.inspect.attention import attention_maps
from gancli.inspect.attention_math import render_grid
from gancli.inspect.sn_check import sn_check
from gancli.report.context import RunContext
from gancli.sampling import SampleRequest, load_generator, sample
from gancli.sampling.translation import load_translators, translation_sheet
from gancli.viz import html
from gancli.viz.grid import grid_array, tile


def scale_for(res: int) -> int:
    """Pixels per image pixel on the page: small images are enlarged (nearest neighbour)."""
    return 3 if res <= 32 else 2 if res <= 64 else 1


def truncation_sweep(ctx: RunContext) -> str:
    """One row per truncation value t, every row from the same seed: the same base z (entries
    outside [-t, t] redrawn) and the same labels, as ``gancli sample --truncation 2,1,0.5``."""
    req = ctx.request
    gen = load_generator(ctx.checkpoint, device=ctx.device)
    result = sample(gen, SampleRequest(n=req.n, truncation=list(req.truncations), seed=req.seed))
    rows = []
    for i, t in enumerate(req.truncations):
        row = tile(result.images[i * req.n: (i + 1) * req.n], nrow=req.n)
        png = html.png_bytes(row, scale_for(gen.model_config.res))
        rows.append((f"t = {t:g}", html.Raw(html.image(png, f"truncation {t:g}"))))
    weights = "EMA" if gen.ema else "training"
    labels = {"class": "classes drawn as in the data", "attrs": "attributes drawn as in the data"}.get(
        gen.label_kind, "unconditional")
    caption = (f"{req.n} images per row from seed {req.seed} ({weights} weights, {labels}): the same z in every "
               f"column, entries outside [-t, t] redrawn; smaller t trades variety for fidelity. "
               f"gancli sample {ctx.checkpoint.path} --truncation {','.join(f'{t:g}' for t in req.truncations)} "
               f"-n {req.n} --seed {req.seed} makes the same images.")
    return html.table(None, rows, cls="images") + html.paragraph(caption)


def translations(ctx: RunContext) -> str:
    """A two-domain run's test images with their translations and cycles (``gancli sample`` on it)."""
    req = ctx.request
    tr = load_translators(None, device=ctx.device, checkpoint=ctx.checkpoint)
    sheet = translation_sheet(tr, req.translations, req.seed)
    png = html.png_bytes(grid_array(sheet, nrow=6), scale_for(tr.res))
    caption = (f"{len(sheet) // 6} test images per domain (seed {req.seed}, {'EMA' if tr.ema else 'training'} "
               "weights); columns: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)).")
    return html.figure(html.image(png, "translations"), caption)


def attention(ctx: RunContext) -> str:
    """G's attention maps on generated images for the query points, as ``gancli attn-map`` draws them."""
    ckpt, req = ctx.checkpoint, ctx.request
    if ckpt.method.two_domain:
        raise GancliError(f"not shown: a {ckpt.method.name} run's networks (ResNet translators, PatchGAN "
                          "discriminators) have no self-attention")
    points = ctx.points
    attn = AttnRequest(points=[f"{x},{y}" for x, y in points], n=req.attn_n, seed=req.seed, entropy=True)
    try:
        result, _ = attention_maps(ckpt.path, attn, device=ctx.device)
    except GancliError as err:  # a model without attention blocks: say so without the file name
        raise GancliError("not shown: " + str(err).removeprefix(f"{ckpt.path}: ")) from None
    png = html.png_bytes(render_grid(result.maps, entropy=True))
    where = " ".join(f"({x}, {y})" for x, y in points)
    caption = (f"Rows: {req.attn_n} generated images (seed {req.seed}) x blocks {', '.join(result.block_names)}; "
               f"columns: the image, where each query pixel {where} looks (brightest: the key it weights most), "
               "and the attention entropy per query (dark: local, bright: spread out). gancli attn-map "
               f"{ckpt.path} --point ... shows the same.")
    gammas = "".join(f"<li>{html.esc(line)}</li>" for line in result.gamma_lines)
    return html.figure(html.image(png, "attention maps"), caption) + f"<ul>{gammas}</ul>"


def sn_request(ctx: RunContext) -> SnRequest:
    """The audit the page runs: ``gancli sn-check``'s defaults with the page's seed and fewer images."""
    return SnRequest(n=ctx.request.sn_n, seed=ctx.request.seed)


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def layer_kind(row: dict[str, Any]) -> str:
    """ok, no SN (by design), not normalized or drifted: as ``gancli sn-check`` flags a layer."""
    if row["exempt"]:
        return "no SN (by design)"
    if not row["normalized"]:
        return "not normalized"
    return "drifted" if row["drifted"] else "ok"


def layer_status(row: dict[str, Any]) -> str:
    status = layer_kind(row)
    if row["sigma_op"] is not None and not row["op_converged"]:
        status += f" (σ_op not converged in {row['op_iterations']})"
    return status


SN_HEADER = ["layer", "kind", "input", "σ̂ = uᵀWv", "σ_mat(W)", "σ_mat(W/σ̂)", "σ_op", ""]


def sn_table(net: dict[str, Any]) -> str:
    rows = [[row["name"].split(".", 1)[1], row["kind"],
             "x".join(str(s) for s in row["input_shape"]) if row["input_shape"] else "-",
             _f(row["sigma_hat"]), _f(row["sigma_mat_raw"]), _f(row["sigma_mat"]), _f(row["sigma_op"]),
             layer_status(row)] for row in net["layers"]]
    return html.table(SN_HEADER, rows, cls="sn")


def bound_line(net: dict[str, Any]) -> str:
    if net.get("lipschitz_bound") is None:
        return ""
    pooling = (f" x √(H·W) = {net['pooling_factor']:.3g} for the global sum pooling"
               if net.get("pooling_factor", 1) != 1 else "")
    return (f"Product of σ_op over the layers{pooling}: {net['lipschitz_bound']:.4g} (a bound on the Lipschitz "
            "constant for a plain chain; not for the parts listed next).")


def spectral_norms(ctx: RunContext) -> str:
    """``gancli sn-check`` on the checkpoint: D's layers and bound in view, G's folded."""
    report = sn_check(ctx.checkpoint.path, sn_request(ctx))
    body = html.paragraph(f"Flagged when |σ_mat(W/σ̂)/K - 1| > {report['tol']}; σ_op by power iteration "
                          f"(at most {report['power_iterations']} iterations). D's normalisation: "
                          f"{report.get('d_norm')}. gancli sn-check {ctx.checkpoint.path} prints the same.")
    for name, net in report["nets"].items():
        parts = [sn_table(net)]
        bound = bound_line(net)
        if bound:
            parts.append(html.paragraph(bound))
        if net.get("not_covered"):
            parts.append(html.paragraph("Not covered by the product: " + "; ".join(net["not_covered"])))
        if net.get("gradient_norms"):
            parts.append(html.paragraph("Largest ‖∇ₓ" + name + "(x)‖: " + ", ".join(
                f"{k} {v:.4g}" for k, v in net["gradient_norms"].items())))
        kinds = [layer_kind(row) for row in net["layers"]]
        counts = ", ".join(f"{kinds.count(kind)} {kind.replace(' (by design)', ' by design')}"
                           for kind in dict.fromkeys(kinds))
        summary = f"{name}: {len(kinds)} layers ({counts})"
        if net.get("lipschitz_bound") is not None:
            summary += f"; bound {net['lipschitz_bound']:.4g}"
        body += html.details(summary, "".join(parts), open_=name.startswith("D"))
    if report.get("real_images"):
        body += html.note(f"real images {report['real_images']}")
    for key, what in (("not_normalized", "carry no spectral norm"), ("drifted", "drifted")):
        if report.get(key):
            names = report[key]
            body += html.note(f"{len(names)} layer{'s' if len(names) > 1 else ''} {what}: {', '.join(names)}")
    return body


__all__ = ["attention", "bound_line", "layer_kind", "layer_status", "scale_for", "sn_request", "sn_table",
           "spectral_norms", "translations", "truncation_sweep"]
