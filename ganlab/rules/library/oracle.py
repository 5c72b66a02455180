"""The oracle: the epoch of best quality. It needs the whole run, so it is the judge the
other rules are measured against (regret), not a detector."""

from __future__ import annotations

from ganlab.config.early_stop import EarlyStopConfig
from ganlab.rules.rule import register_rule
from ganlab.rules.run_quality import quality_series
from ganlab.rules.timeline import FITTING, History, Timeline


@register_rule("oracle", keys=("quality/hq_fraction", "quality/modes_covered"))
def oracle_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """The epoch of best quality, known only once the run is over: the judge."""
    epochs, quality = quality_series(history)
    if not epochs:
        return Timeline()
    best = max(range(len(epochs)), key=lambda i: (quality[i], -i))  # earliest best
    return Timeline(
        epochs=epochs,
        scores=[None] * len(epochs),
        phases=[FITTING] * len(epochs),
        trigger_epoch=None,
        stop_epoch=epochs[best],
    )
