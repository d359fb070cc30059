"""``gancli report``: one self-contained HTML page per run.

    written = write_run_report("runs/x", RunReportRequest(seed=0))   # runs/x/report.html
    page = build_run_report(load_run_checkpoint("runs/x"), RunReportRequest()).html

The page shows, in order: an overview, the configuration (training options, the model as built,
the data), the training curves (``gancli plot``'s figure), the newest sample grid with the real
grid and progress.gif, the last evaluation of metrics.jsonl, a truncation sweep (a translation
run: its test translations instead), G's attention maps (models with self-attention) and the
spectral-norm audit (``gancli sn-check``). Images are embedded as data: URIs; nothing is fetched
and there is no script. A part that cannot be made (no GIF yet, no evaluation, no attention
block) is a short note saying why, never an error: the page is always written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gancli.config import RUNS_ROOT
from gancli.errors import GancliError
from gancli.methods import LoadedCheckpoint, load_run_checkpoint
from gancli.report import model_sections, sections
from gancli.report.context import RunContext, RunReportRequest
from gancli.viz import html
from gancli.checkpoint import atomic_write_bytes, run_folder_of
from gancli.sampling import check_writable

#: the page's own CSS, after the shared one
STYLE = (".row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}figure{margin:0}"
         "figcaption{font-size:90%;color:#444;max-width:900px}table.kv td:last-child{text-align:left}"
         "table.kv td:first-child{color:#555}table.kv,table.sn,table.images{font-size:90%}"
         "table.images td{border:none;padding:2px 8px;vertical-align:middle;white-space:nowrap}h3{margin-bottom:0.4em}"
         "nav{margin-bottom:1em}nav a{margin-right:1em}details{margin:0.6em 0}summary{cursor:pointer}")


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    build: Callable[[RunContext], str]  # the section's HTML, or GancliError: why it is not shown


def page_sections(ckpt: LoadedCheckpoint) -> list[Section]:
    """The sections of ``ckpt``'s page: a translation run shows its translations, not a truncation sweep."""
    samples_from_z = (Section("translations", "Translations", model_sections.translations) if ckpt.method.two_domain
                      else Section("truncation", "Truncation sweep", model_sections.truncation_sweep))
    return [Section("overview", "Overview", sections.overview),
            Section("config", "Configuration", sections.configuration),
            Section("curves", "Training curves", sections.curves),
            Section("samples", "Samples", sections.samples),
            Section("eval", "Last evaluation", sections.last_evaluation),
            samples_from_z,
            Section("attention", "Attention maps", model_sections.attention),
            Section("sn", "Spectral normalization", model_sections.spectral_norms)]


@dataclass
class RunReport:
    html: str
    title: str
    notes: dict[str, str] = field(default_factory=dict)  # section title -> why it is a note


def build_run_report(ckpt: LoadedCheckpoint, req: RunReportRequest, device: Any = "cpu") -> RunReport:
    """The page of ``ckpt``'s run. Checks the request first (a bad query point is a GancliError for
    the caller); every part that cannot be made after that becomes a note on the page."""
    ctx = RunContext(ckpt, req, device)  # checks the request: its errors are the caller's, not notes
    name = ctx.run.name if ctx.run is not None else ckpt.path.stem
    parts, notes = [], {}
    chosen = page_sections(ckpt)
    for section in chosen:
        try:
            body = section.build(ctx)
        except GancliError as err:
            notes[section.title] = str(err)
            body = html.note(_sentence(str(err)))
        except (TypeError, ValueError, KeyError, AttributeError) as err:  # a hand-edited or foreign record
            why = f"not shown: the run's files hold a record of another shape ({type(err).__name__}: {str(err)[:120]})"
            notes[section.title] = why
            body = html.note(_sentence(why))
        parts.append(html.section(section.title, body, anchor=section.anchor))
    nav = "<nav>" + "".join(f"<a href='#{s.anchor}'>{html.esc(s.title)}</a>" for s in chosen) + "</nav>"
    heading = f"gancli run {name}: {ckpt.model_config.name}, step {ckpt.step}"
    return RunReport(html.page(f"gancli run {name}", heading, nav + "".join(parts), style=STYLE), heading, notes)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", ")")) else text + "."


def default_out(ckpt: LoadedCheckpoint) -> Path:
    """RUN/report.html (beside a checkpoint file that is not in a run directory: its folder's report.html)."""

    return (ckpt.run_dir or run_folder_of(ckpt.path)) / "report.html"


@dataclass
class WrittenReport:
    path: Path
    size: int  # bytes
    notes: dict[str, str]  # section title -> why it is a note


def write_run_report(target: str | Path | None, req: RunReportRequest | None = None, out: str | Path | None = None,
                     device: Any = "cpu", runs_root: str | Path = RUNS_ROOT) -> WrittenReport:
    """Resolves ``target`` (a checkpoint, a run directory, None = the newest run), builds its page
    and writes it atomically to ``out`` (default RUN/report.html). A bad target, an unwritable
    ``out`` or a query point outside the image fail before anything is computed or written."""

    req = req or RunReportRequest()
    req.check()
    ckpt = load_run_checkpoint(target, runs_root)
    path = Path(out) if out is not None else default_out(ckpt)
    if path.suffix.lower() not in (".html", ".htm"):
        raise GancliError(f"--out {path}: the report is an HTML page; give a .html path")
    check_writable(path)
    report = build_run_report(ckpt, req, device)
    data = report.html.encode()
    try:
        atomic_write_bytes(path, lambda f: f.write(data))
    except OSError as err:
        raise GancliError(f"cannot write {path}: {err.strerror or err}") from None
    return WrittenReport(path, len(data), report.notes)


__all__ = ["RunReport", "Section", "WrittenReport", "build_run_report", "default_out", "page_sections",
           "write_run_report"]
