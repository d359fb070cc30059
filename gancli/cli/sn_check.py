"""``gancli sn-check``: parse options -> SnRequest -> gancli.inspect.sn_check.sn_check; a table or JSON."""
from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from gancli.cli.app import RunTarget, command, completer
from gancli.config import SnRequest

D = SnRequest  # the defaults


@command("sn-check", examples=[
    ("gancli sn-check demo", "every layer's sigma estimate against the exact spectral norm, and D's Lipschitz bound"),
    ("gancli sn-check --model sagan --res 64", "audit a freshly built SAGAN instead of a run"),
    ("gancli sn-check demo --net d --strict --json", "for CI: JSON, and exit 1 when a layer drifted"),
])
def sn_check_command(
    target: RunTarget = None,
    net: Annotated[str, typer.Option(help="g, d or both.")] = D.net,
    tol: Annotated[float, typer.Option(help="Flag layers whose sigma_mat(W / sigma_hat) is off K by more than this.")] = D.tol,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any layer is flagged (for CI) [off].")] = False,
    iters: Annotated[int, typer.Option(help="Most power iterations for sigma_op.")] = D.iters,
    rtol: Annotated[float, typer.Option(help="Power iteration stops when sigma_op changes by less than this, relative.")] = D.rtol,
    n: Annotated[int, typer.Option("-n", "--n", help="Images per kind (real, generated, interpolated) for the gradient check.")] = D.n,
    seed: Annotated[int, typer.Option(help="Seed of z, labels and images.")] = D.seed,
    model: Annotated[Optional[str], typer.Option(autocompletion=completer("models"), help="Audit a fresh model instead (dcgan, cnn, sngan, sagan, biggan, began, cyclegan) [none: the run].")] = None,
    res: Annotated[int, typer.Option(help="Fresh model: resolution.")] = D.res,
    ch: Annotated[Optional[int], typer.Option(help="Fresh model: channel multiplier [model default].")] = None,
    n_classes: Annotated[int, typer.Option(help="Fresh model: classes (0: unconditional).")] = D.n_classes,
    d_norm: Annotated[Optional[str], typer.Option(help="Fresh model: D's normalisation, sn, bn, ln, wn, none [the model's].")] = D.d_norm,
    warmup: Annotated[int, typer.Option(help="Training-mode forwards (one power iteration each) before auditing.")] = D.warmup,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON on stdout (no table) [off: a table].")] = False,
) -> None:
    """Audit spectral normalization: sigma estimates, exact and operator norms, D's Lipschitz bound."""
    from gancli.api import sn_check
    from gancli.errors import GancliError

    report = sn_check(target, net=net, tol=tol, iters=iters, rtol=rtol, n=n, seed=seed, model=model, res=res, ch=ch,
                      n_classes=n_classes, d_norm=d_norm, warmup=warmup)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        print_report(report)
    if strict and report["drifted"]:
        raise GancliError(f"{len(report['drifted'])} spectrally normalized layers are off by more than --tol "
                          f"{tol}: {', '.join(report['drifted'])}")


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 132)  # the table is wide; a pipe or a narrow terminal gets it unwrapped
    console.print(f"{report['source']}: {report['model']} at {report['resolution']}px; flag when "
                  f"|sigma_mat(W/sigma_hat)/K - 1| > {report['tol']}; sigma_op by power iteration "
                  f"(<= {report['power_iterations']} iterations, rtol {report['power_rtol']:g})")
    for name, net in report["nets"].items():
        table = Table(title=f"{name}", title_justify="left")
        for column, justify in (("layer", "left"), ("kind", "left"), ("input", "left"), ("σ̂ = uᵀWv", "right"),
                                ("σ_mat(W)", "right"), ("σ_mat(W/σ̂)", "right"), ("σ_op", "right"), ("", "left")):
            table.add_column(column, justify=justify)
        for row in net["layers"]:
            if row["exempt"]:
                flag = "[dim]no SN (by design)[/dim]"
            elif not row["normalized"]:
                flag = "[bold yellow]not normalized[/bold yellow]"
            elif row["drifted"]:
                flag = "[bold red]drifted[/bold red]"
            else:
                flag = "ok"
            if row["sigma_op"] is not None and not row["op_converged"]:
                flag += f" (σ_op not converged in {row['op_iterations']})"
            shape = "x".join(str(s) for s in row["input_shape"]) if row["input_shape"] else "-"
            table.add_row(row["name"].split(".", 1)[1], row["kind"], shape, _f(row["sigma_hat"]), _f(row["sigma_mat_raw"]),
                          _f(row["sigma_mat"]), _f(row["sigma_op"]), flag)
        console.print(table)
        if net.get("lipschitz_bound") is not None:
            pooling = f" x √(H·W) = {net['pooling_factor']:.3g} for the global sum pooling" if net["pooling_factor"] != 1 else ""
            console.print(f"Product of σ_op over D's layers{pooling}: {net['lipschitz_bound']:.4g} "
                          "(a bound on D's Lipschitz constant for a plain chain; not for the parts listed next)")
        if net["not_covered"]:
            console.print("not covered by the product: " + "; ".join(net["not_covered"]))
        if net.get("gradient_norms"):
            console.print("largest ‖∇ₓD(x)‖: " + ", ".join(f"{k} {v:.4g}" for k, v in net["gradient_norms"].items()))
    if report.get("real_images"):
        console.print(f"real images {report['real_images']}")
    bad = [r for n in report["nets"].values() for r in n["layers"] if not r["normalized"] and not r["exempt"]]
    if bad:
        console.print(f"[bold yellow]{len(bad)} layers carry no spectral norm:[/bold yellow] "
                      + ", ".join(r["name"] for r in bad))
    if report["drifted"]:
        console.print(f"[bold red]{len(report['drifted'])} layers drifted:[/bold red] {', '.join(report['drifted'])}")
