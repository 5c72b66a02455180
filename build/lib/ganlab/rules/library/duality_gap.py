"""The duality-gap rule: the gap rising above its running minimum."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.early_stop import EarlyStopConfig
from ganlab.config.fields import option
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


@dataclass
class DualityGapRuleConfig(EarlyStopConfig):
    dg_tol: float = option(8.0, "relative rise of the gap above its minimum that triggers", ge=0)


@register_rule("duality_gap", keys=(DUALITY_GAP_KEY,), config=DualityGapRuleConfig)
def duality_gap_rule(history: History, cfg: DualityGapRuleConfig) -> Timeline:
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
