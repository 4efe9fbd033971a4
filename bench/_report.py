"""Formatting the figures: Markdown tables (pasted as-is into docs/performance.md) and units."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence

__all__ = ["median", "mib", "ms", "ratio", "say", "sec", "spread", "table", "times"]


def say(message: str) -> None:
    """Progress goes to stderr so stdout is the tables alone (``> results.md`` keeps them)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table under a ``###`` title."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"### {title}", "", line(cells[0]), rule, *map(line, cells[1:]), ""])


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.2f}"


def sec(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f}"


def mib(size: int | None) -> str:
    return "n/a" if not size else f"{size / 2**20:.0f}"


def times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def spread(values: Sequence[float | None], scale: float = 1000) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "n/a"
    return f"{min(present) * scale:.2f}-{max(present) * scale:.2f}"
