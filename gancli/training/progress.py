"""The rich progress bar of ``gancli train``: step, img/s, ETA and the current losses."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    def __init__(self, total: int, start: int, enabled: bool = True):
        self.enabled = enabled
        self.total = total
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
        if self.enabled:
            stats = (f"{record['img_s']:.0f} img/s  D {record['d_loss']:.3f}  G {record['g_loss']:.3f}  "
                     f"D(x) {record['d_real']:+.2f}  D(G(z)) {record['d_fake']:+.2f}")
            self._progress.update(self._task, stats=stats)

    def show_eval(self, record: dict) -> None:
        """One printed line per evaluation (kept above the bar), e.g. ``step 400: FID 3.21, class accuracy 97.0%``."""
        if self.enabled:
            self._progress.console.print(format_eval(record))


def format_eval(record: dict) -> str:
    parts = []
    if "fid" in record:
        parts.append(f"FID {record['fid']:.4g}")
    if "is_mean" in record:
        parts.append(f"IS {record['is_mean']:.3g}")
    if "kid_mean" in record:
        parts.append(f"KID {record['kid_mean']:.3g}")
    if "precision" in record:
        parts.append(f"precision {record['precision']:.3f}, recall {record['recall']:.3f}")
    if "class_accuracy" in record:
        parts.append(f"class accuracy {100 * record['class_accuracy']:.1f}%")
    return f"step {record['step']}: " + ", ".join(parts) + f" ({record['feature_extractor']}, n={record['n']})"
