"""Human-readable quantities for what gancli prints: durations with units."""
from __future__ import annotations


def format_seconds(seconds: float | None) -> str:
    """``14.2 s``, ``4 min 21 s``, ``2 h 5 min``; ``-`` for None."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    if total < 3600:
        return f"{total // 60} min {total % 60} s"
    minutes = int(round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60} min"


__all__ = ["format_seconds"]
