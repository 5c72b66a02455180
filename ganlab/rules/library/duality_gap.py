"""The duality-gap rule: the gap rising above its running minimum."""

from __future__ import annotations

from ganlab.config import EarlyStopConfig
from ganlab.rules.rule import register_rule
from ganlab.rules.timeline import (
    DUALITY_GAP_KEY,
    History,
    Timeline,
    ema,
    finish,
    plateau_phases,
    series,
)


@register_rule("duality_gap", keys=(DUALITY_GAP_KEY,))
def duality_gap_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """The duality gap (smoothed) rising above its running minimum by `dg_tol` (relative)."""
    epochs, (gap,) = series(history, (DUALITY_GAP_KEY,))
    smooth = ema(gap, cfg.ema)
    scores: list[float | None] = []
    low = None
    for i, value in enumerate(smooth):
        if i < cfg.warmup_epochs:
            scores.append(None)
            continue
        low = value if low is None else min(low, value)
        scores.append((value - low) / max(abs(low), 1e-6))
    return finish(epochs, scores, plateau_phases(smooth, cfg, growing=False), cfg.dg_tol, cfg)
