"""What a rule returns, and the pieces every rule uses: phases, the history's series,
the plateau test for the end of fitting and the trigger search.

A rule says when a run collapses or fails, not which weights to keep: a run keeps its
best epoch by quality (ganlab.rules.verdict, ganlab.training.best)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ganlab.config import EarlyStopConfig

History = Sequence[tuple[int, Mapping[str, float]]]  # (epoch, metrics), epochs ascending

FITTING, REFINING, COLLAPSING, FAILING = 0, 1, 2, 3
PHASE_NAMES = {
    FITTING: "fitting",
    REFINING: "refining",
    COLLAPSING: "collapsing",
    FAILING: "failing",
}

DGRAD_KEY = "monitor/dgrad_fake_p90"
STEEPNESS_P90_KEY = "monitor/steepness_p90"
STEEPNESS_MAX_KEY = "monitor/steepness_max"
DUALITY_GAP_KEY = "monitor/duality_gap"
LOGIT_MAX_KEY = "train/d_logit_abs_max"
G_UPDATE_KEY = "train/g_update_rel"
D_ACC_KEY = "monitor/d_acc"


@dataclass
class Timeline:
    """A rule's reading of one history; lists are aligned with `epochs`."""

    epochs: list[int] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    phases: list[int] = field(default_factory=list)
    trigger_epoch: int | None = None
    # what the trigger saw: "collapse" or "failing" (the run never fitted); None: no trigger
    cause: str | None = None
    failing_epoch: int | None = None  # first evaluation marked failing, if any

    def phase_at(self, epoch: int) -> int:
        """Phase of `epoch`: that of the latest evaluation at or before it."""
        phase = FITTING
        for e, p in zip(self.epochs, self.phases, strict=True):
            if e > epoch:
                break
            phase = p
        return phase


def ema(values: Sequence[float], weight: float) -> list[float]:
    smoothed: list[float] = []
    for value in values:
        smoothed.append(value if not smoothed else weight * value + (1 - weight) * smoothed[-1])
    return smoothed


def series(history: History, keys: Sequence[str]) -> tuple[list[int], list[list[float]]]:
    """Epochs >= 1 where all `keys` were logged (and finite), and their values per key."""
    epochs: list[int] = []
    columns: list[list[float]] = [[] for _ in keys]
    for epoch, metrics in history:
        if epoch < 1 or not all(k in metrics and math.isfinite(metrics[k]) for k in keys):
            continue
        epochs.append(epoch)
        for column, key in zip(columns, keys, strict=True):
            column.append(float(metrics[key]))
    return epochs, columns


def plateau_phases(progress: Sequence[float], cfg: EarlyStopConfig, growing: bool) -> list[int]:
    """FITTING until the progress signal changes by less than plateau_tol over `window`
    evaluations (growing: relative rise; else relative fall), REFINING from then on."""
    phases, refining = [], False
    for i, value in enumerate(progress):
        if not refining and i >= cfg.window:
            before = progress[i - cfg.window]
            change = (value - before) if growing else (before - value)
            refining = change < cfg.plateau_tol * max(abs(before), 1e-12)
        phases.append(REFINING if refining else FITTING)
    return phases


def find_trigger(scores: list[float | None], threshold: float, cfg: EarlyStopConfig) -> int | None:
    """The trigger's index: the end of the first run of `patience` scores >= threshold."""
    streak = 0
    for i, score in enumerate(scores):
        streak = streak + 1 if score is not None and score >= threshold else 0
        if streak == cfg.patience:
            return i
    return None


def gate_by_quality(
    phases: list[int], epochs: Sequence[int], quality: dict[int, float], level: float, window: int
) -> list[int]:
    """REFINING becomes FITTING until the sustained quality (median of the last `window`
    evaluations with quality) has reached `level`; the run then counts as fitted from that
    evaluation on. Unchanged when no quality was logged."""
    if not quality or level <= 0:
        return phases
    seen: list[float] = []
    fitted = False
    out = []
    for epoch, phase in zip(epochs, phases, strict=True):
        if epoch in quality:
            seen.append(quality[epoch])
        fitted = fitted or (bool(seen) and statistics.median(seen[-window:]) >= level)
        out.append(FITTING if phase == REFINING and not fitted else phase)
    return out


def finish(
    epochs: list[int],
    scores: list[float | None],
    phases: list[int],
    threshold: float,
    cfg: EarlyStopConfig,
) -> Timeline:
    trigger = find_trigger(scores, threshold, cfg)
    if trigger is not None:
        phases = phases[:trigger] + [COLLAPSING] * (len(phases) - trigger)
    return Timeline(
        epochs=epochs,
        scores=scores,
        phases=phases,
        trigger_epoch=None if trigger is None else epochs[trigger],
        cause=None if trigger is None else "collapse",
    )


def optional_series(history: History, epochs: Sequence[int], key: str) -> list[float | None]:
    """`key` at each of `epochs` (None where it was not logged or not finite)."""
    by_epoch = {
        epoch: float(metrics[key])
        for epoch, metrics in history
        if key in metrics and math.isfinite(metrics[key])
    }
    return [by_epoch.get(epoch) for epoch in epochs]


def spike(values: Sequence[float | None], window: int, start: int) -> list[float | None]:
    """How far each value rises above the median of the `window` values before it."""
    out: list[float | None] = []
    seen: list[float] = []
    for index, x in enumerate(values):
        if x is None or len(seen) < window or index < start:
            out.append(None)
        else:
            out.append(max(0.0, x - statistics.median(seen[-window:])))
        if x is not None:
            seen.append(x)
    return out
