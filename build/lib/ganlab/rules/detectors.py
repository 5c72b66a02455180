"""Detectors: pure functions from a logged series to a per-evaluation alarm statistic.

Each reads only values logged at or before an evaluation, so a rule built from them
decides online exactly what a replay on the stored history decides (ganlab.rules), and
new settings can be judged on stored runs without retraining (ganlab-replay,
ganlab-benchmark). What each one looks for, and why (docs/collapse.md has the evidence):

- `level_shift`: a one-sided CUSUM of upward *sustained* shifts in a log-scaled series.
  At a permanent collapse, D's gradient at the fakes rises several-fold and stays there;
  a single-evaluation comparison sees one jump and then a new normal, while CUSUM adds
  the jump up for as long as its reference lags behind. A one-evaluation spike adds once
  and then drains.
- `frozen`: the generator has stopped moving (saturated minimax loss, dead units):
  its parameters changed by less than a relative `tol` over an epoch. No gradient
  spikes at all in such runs: the freeze itself is the signal.
- `dominant`: the discriminator wins outright, its balanced accuracy on held-out reals
  vs fakes at or above `level`. While it lasts the generator gets no useful signal.

Series may contain None (not logged at that evaluation); detectors treat it as "no
new information" and carry their state over.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def safe_log(value: float | None) -> float | None:
    """log(value), with non-positive values clamped to 1e-12; None stays None."""
    return None if value is None else math.log(max(value, 1e-12))


def level_shift(
    series: Sequence[float | None], drift: float, window: int, start: int = 0
) -> list[float | None]:
    """Upward CUSUM against a moving reference: S_t = max(0, S_{t-1} + x_t - ref_t - drift),
    ref_t = the median of the `window` values before x_t.

    A sustained shift of size d adds (d - drift) for about window / 2 + 1 evaluations,
    until the median has moved to the new level; a one-evaluation spike of the same size
    adds it once (the median ignores it) and drains by `drift` per evaluation after. So a
    shift reaches about (window / 2 + 1) times what a spike does, which is what separates
    the two. A slow trend of r per evaluation stays about r * (window + 1) / 2 above the
    median: below `drift`, it never adds up (D's gradient grows like this while D learns).
    A fixed reference, as in textbook CUSUM, would let such trends accumulate without end.
    None before index `start` or before `window` values have been seen.
    """
    stats: list[float | None] = []
    seen: list[float] = []
    total = 0.0
    for index, x in enumerate(series):
        if x is None:
            stats.append(total if len(seen) >= window and index >= start else None)
            continue
        if len(seen) >= window and index >= start:
            total = max(0.0, total + x - statistics.median(seen[-window:]) - drift)
            stats.append(total)
        else:
            stats.append(None)
        seen.append(x)
    return stats


def frozen(update_rel: Sequence[float | None], tol: float) -> list[bool]:
    """True where the relative parameter change over the epoch is below `tol`."""
    return [value is not None and value < tol for value in update_rel]


def dominant(accuracy: Sequence[float | None], level: float) -> list[bool]:
    """True where D's balanced accuracy is at or above `level`."""
    return [value is not None and value >= level for value in accuracy]


def persistent(flags: Sequence[bool], patience: int) -> list[bool]:
    """True from the `patience`-th consecutive True of a run of Trues until it ends."""
    out, streak = [], 0
    for flag in flags:
        streak = streak + 1 if flag else 0
        out.append(streak >= patience)
    return out
