"""The gradient rule: a spike of D's gradient at the fakes (and optionally a drop of
steepness) against a recent or running reference."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ganlab.config.early_stop import EarlyStopConfig
from ganlab.config.fields import option
from ganlab.rules.rule import register_rule
from ganlab.rules.timeline import (
    DGRAD_KEY,
    FITTING,
    STEEPNESS_MAX_KEY,
    STEEPNESS_P90_KEY,
    History,
    Timeline,
    ema,
    finish,
    plateau_phases,
    series,
)


@dataclass
class GradientRuleConfig(EarlyStopConfig):
    score_from: str = option(
        "warmup",
        "`warmup`: score after the warm-up; `plateau`: also not before fitting has ended "
        "(D's gradient grows a lot while D learns)",
        choices=("warmup", "plateau"),
    )
    reference: str = option(
        "recent",
        "what a value is compared with: `recent` the median of the previous `window` "
        "evaluations (a spike detector); `running` the running minimum (D gradient) / "
        "maximum (steepness) since scoring began",
        choices=("running", "recent"),
    )
    beta: float = option(0.0, "weight of the steepness term in the score", ge=0)
    tau: float = option(
        2.0,
        "score threshold, a log ratio (2: the smoothed D gradient 7.4x its reference)",
        ge=0,
    )


@register_rule(
    "gradient",
    keys=(DGRAD_KEY, STEEPNESS_P90_KEY, STEEPNESS_MAX_KEY),
    config=GradientRuleConfig,
)
def gradient_rule(history: History, cfg: GradientRuleConfig) -> Timeline:
    """A spike of D's gradient at the fakes (p90, smoothed) against its recent median or
    running minimum, plus `beta` x the drop of steepness max; triggers at `tau`."""
    epochs, (dgrad, s_p90, s_max) = series(
        history, (DGRAD_KEY, STEEPNESS_P90_KEY, STEEPNESS_MAX_KEY)
    )
    g, p90, smax = (ema(v, cfg.ema) for v in (dgrad, s_p90, s_max))
    phases = plateau_phases(p90, cfg, growing=True)
    scores: list[float | None] = []
    g_ref = s_ref = None
    for i in range(len(epochs)):
        if i < cfg.warmup_epochs or (cfg.score_from == "plateau" and phases[i] == FITTING):
            scores.append(None)
            continue
        if cfg.reference == "recent":
            if i < cfg.window:
                scores.append(None)
                continue
            g_ref = statistics.median(g[i - cfg.window : i])
            s_ref = statistics.median(smax[i - cfg.window : i])
        else:
            g_ref = g[i] if g_ref is None else min(g_ref, g[i])
            s_ref = smax[i] if s_ref is None else max(s_ref, smax[i])
        steep_drop = max(0.0, math.log(max(s_ref, 1e-12) / max(smax[i], 1e-12)))
        scores.append(math.log(max(g[i], 1e-12) / max(g_ref, 1e-12)) + cfg.beta * steep_drop)
    return finish(epochs, scores, phases, cfg.tau, cfg)
