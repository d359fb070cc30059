"""The rich progress bar of ``gancli train``: step, img/s, ETA and the method's current statistics."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    def __init__(self, total: int, start: int, labels: dict[str, str] | None = None,
                 formats: dict[str, str] | None = None, enabled: bool = True):
        """``labels``: statistic name -> short label, in the order shown (the method's ``stat_labels``);
        statistics without a label are shown by name after them. ``formats``: name -> format spec."""
        self.enabled = enabled
        self.total = total
        self.labels = dict(labels or {})
        self.formats = dict(formats or {})
        self.alarm: str | None = None  # the first alarm a method raised: kept on the progress line
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
                console=Console(stderr=True), transient=False,
            )
            self._task = self._progress.add_task("train", total=total, completed=start, stats="")

    def __enter__(self):
        if self.enabled:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._progress.__exit__(*exc)
        return False

    def advance(self, step: int) -> None:
        if self.enabled:
            self._progress.update(self._task, completed=step)

    def show_stats(self, record: dict) -> None:
        """The record's statistics on the bar; a method's alarm is printed once (above the bar) and
        stays on the bar as a red "ALARM since step N"."""
        if record.get("alarm") and self.alarm is None:
            self.alarm = f"ALARM since step {record['step']}"
            if self.enabled:
                self._progress.console.print(f"[bold red]alarm[/]: {record['alarm']}", markup=True, highlight=False)
        if self.enabled:
            stats = format_stats(record, self.labels, self.formats)
            if self.alarm:
                stats = f"[bold red]{self.alarm}[/]  {stats}"
            self._progress.update(self._task, stats=stats)

    def show_eval(self, record: dict) -> None:
        """One printed line per evaluation (kept above the bar), e.g. ``step 400: FID 3.21, class accuracy 97.0%``."""
        if self.enabled:
            self._progress.console.print(format_eval(record))


#: record keys that are not a method's statistics
BOOKKEEPING = ("step", "time", "img_s", "event", "alarm")


def format_stats(record: dict, labels: dict[str, str], formats: dict[str, str] | None = None) -> str:
    """``97 img/s  D 1.234  G 0.567  D(x) +0.12 ...``: img/s, then every statistic of the record."""
    formats = formats or {}
    names = [k for k in labels if k in record]
    names += [k for k in record if k not in labels and k not in BOOKKEEPING and not k.startswith("lr_")]
    parts = [f"{record['img_s']:.0f} img/s"] if "img_s" in record else []
    parts += [f"{labels.get(name, name)} {record[name]:{formats.get(name, '.3f')}}" for name in names
              if isinstance(record[name], (int, float))]
    return "  ".join(parts)


def format_eval(record: dict) -> str:
    from gancli.metrics.registry import format_record

    return f"step {record['step']}: {format_record(record)} ({record['feature_extractor']}, n={record['n']})"
