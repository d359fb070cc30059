"""``gancli compare``: parse options -> gancli.api.compare (or compare_commands, collect_study); the table."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import command, split_list


@command("compare", examples=[
    ("gancli compare sngan wgan-gp sagan --seeds 3", "three systems, three seeds each, one protocol: table, curves, samples, HTML"),
    ("gancli compare --study docs/studies/shapes-4.toml --jobs 2", "a study file, two runs at a time"),
    ("gancli compare sngan sagan --hparams A,B --print-commands", "a shell line per run left (start, or resume), to run on a cluster"),
])
def compare_command(
    variants: Annotated[Optional[list[str]], typer.Argument(help="Presets (sngan, wgan-gp, began, ebgan, bn, ln, ...) or models (dcgan, sagan, ...) to compare [none: --study's].")] = None,
    study_file: Annotated[Optional[Path], typer.Option("--study", help="A TOML study file: variants as tables of train options (docs/compare.md) [none].")] = None,
    data: Annotated[Optional[str], typer.Option(help="Dataset of every run [shapes].")] = None,
    data_root: Annotated[Optional[str], typer.Option(help="Root of a local dataset [none: as gancli train].")] = None,
    res: Annotated[Optional[int], typer.Option(help="Resolution of every run [each preset's].")] = None,
    hparams: Annotated[Optional[str], typer.Option(help="Comma list of optimiser settings (A-F, report-A..C): every variant under each [none: each preset's].")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training steps of every run [each preset's].")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per variant and setting (0 .. K-1).")] = 1,
    eval_every: Annotated[Optional[int], typer.Option(help="Steps between evaluations [steps / 8].")] = None,
    eval_n: Annotated[Optional[int], typer.Option(help="Generated images per evaluation [2000].")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any other gancli train option for every run, KEY=VALUE; repeatable [none].")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Study folder [studies/A-vs-B... after the variants].")] = None,
    jobs: Annotated[int, typer.Option(help="Runs at once (processes; the CPU threads divided between them).")] = 1,
    print_commands: Annotated[bool, typer.Option("--print-commands", help="Print a shell line per run not finished yet (it starts the run, or resumes it when it has a checkpoint) and exit (for a cluster) [off].")] = False,
    collect_dir: Annotated[Optional[Path], typer.Option("--collect", help="Only build the report from the run directories in this study folder [none: train first].")] = None,
    labels: Annotated[bool, typer.Option("--labels/--no-labels", help="Name samples.png's rows (variants) and columns (classes) in a margin.")] = True,
) -> None:
    """Train several GANs on one dataset under one evaluation protocol; a table, curves, samples, an HTML report."""
    from gancli import api
    from gancli.errors import GancliError

    if collect_dir is not None:
        if variants or study_file:
            raise GancliError("--collect reads finished runs; give it alone (no variants, no --study)")
        report(api.collect_study(collect_dir, labels=labels))
        return
    study = dict(study=study_file, data=data, data_root=data_root, res=res, hparams=split_list(hparams), steps=steps,
                 seeds=seeds, eval_every=eval_every, eval_n=eval_n, set_options=set_ or [], out=out)
    if print_commands:
        lines, done, folder = api.compare_commands(list(variants or []), **study)
        for line in lines:
            typer.echo(line)
        if done:
            typer.echo(f"# finished, not printed: {', '.join(done)}", err=True)
        typer.echo(f"# each line starts its run, or resumes it when it has a checkpoint; then: "
                   f"gancli compare --collect {folder}", err=True)
        return
    report(api.compare(list(variants or []), **study, jobs=jobs, echo=lambda line: typer.echo(line, err=True),
                       labels=labels))


def report(study) -> None:
    """Prints a ``gancli.api.StudyReport``: the table, its notes, the missing runs (stderr too), the files."""
    from rich.console import Console
    from rich.table import Table

    from gancli.study.report import table_rows

    results, files = study.results, study.files
    header, rows = table_rows(results)
    table = Table(title=f"study {results.folder}")
    for i, title in enumerate(header):
        table.add_column(title, justify="left" if i == 0 else "right")
    for cells in rows:
        table.add_row(*[f"[bold]{c.strip('*')}[/bold]" if c.startswith("**") else c for c in cells])
    console = Console()
    console.width = max(console.width, 140)
    console.print(table)
    for note in results.notes:
        console.print(f"note: {note}")
    if results.missing:  # on stderr too: a script that reads only the exit status and stderr sees it
        typer.echo(f"missing from the table: {', '.join(f'{k} ({v})' for k, v in results.missing.items())}", err=True)
    console.print(f"wrote {', '.join(str(p) for p in files.values())}")
