"""No rule: never stops (the baseline every rule must beat)."""

from __future__ import annotations

from ganlab.config.early_stop import EarlyStopConfig
from ganlab.rules.rule import register_rule
from ganlab.rules.timeline import History, Timeline


@register_rule("none", keys=())
def no_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """Never stops: the baseline every rule must beat."""
    return Timeline()
