"""Plain-text tables shared by ganlab-replay, ganlab-compare and sweep summaries.

Markdown, because the same text reads well in a terminal, pastes into the docs, and
renders as a table when logged to MLflow as an artifact.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


def fmt(value: float | int | None, digits: int = 3) -> str:
    """'-' for missing values, floats with `digits` decimals, the rest as str."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
