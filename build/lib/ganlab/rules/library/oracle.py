"""The oracle: never fires, so the run keeps its epoch of best quality over the whole run
(ganlab.rules.verdict). It needs the whole run, so it is the judge the other rules are
measured against (regret), not a detector."""

from __future__ import annotations

from ganlab.config.early_stop import EarlyStopConfig
from ganlab.rules.rule import register_rule
from ganlab.rules.run_quality import quality_series
from ganlab.rules.timeline import FITTING, History, Timeline


@register_rule("oracle", keys=("quality/hq_fraction", "quality/modes_covered"))
def oracle_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """Keeps the epoch of best quality, known only once the run is over: the judge."""
    epochs, _ = quality_series(history)
    return Timeline(epochs=epochs, scores=[None] * len(epochs), phases=[FITTING] * len(epochs))
