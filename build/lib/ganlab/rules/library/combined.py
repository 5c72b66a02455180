"""The combined rule: collapse channels (sustained shifts of D's gradient, escalation of
D's logits, a sustained fall of quality, an escalation confirmed by one) and failing
channels (a frozen generator, a dominant discriminator)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ganlab.config.fields import option
from ganlab.rules.detectors import level_shift, safe_log
from ganlab.rules.failing import FAILING_KEYS, FailingChannelsConfig, mark_failing
from ganlab.rules.rule import register_rule
from ganlab.rules.run_quality import bounded_quality
from ganlab.rules.timeline import (
    DGRAD_KEY,
    LOGIT_MAX_KEY,
    STEEPNESS_P90_KEY,
    History,
    Timeline,
    ema,
    finish,
    optional_series,
    plateau_phases,
    series,
    spike,
)

QUALITY_KEYS = (
    "quality/hq_fraction",
    "quality/modes_covered",
    "quality/mode_hq_count/",  # a prefix: every mode's count (the number of modes)
    "quality/class_quality",
)


@dataclass
class CombinedRuleConfig(FailingChannelsConfig):
    """A collapse channel fires when its statistic reaches its threshold (0 turns it
    off); score = the largest statistic / threshold, so the rule triggers at >= 1.

    The defaults are the setting the collapse benchmark's sealed protocol chose
    (benchmarks/collapse/choice.json; docs/collapse.md): an escalation of D's logits to
    five times their recent median, counted once quality has fallen by a fifth of its
    best within five evaluations; failing after six evaluations of a frozen G or a
    dominant D."""

    fail_patience: int = option(
        6, "evaluations G frozen or D dominant that mark a run failing", ge=1
    )

    drift: float = option(
        0.3, "CUSUM drift per evaluation, log units (slower trends never add)", ge=0
    )
    shift_window: int = option(
        3, "CUSUM reference: the median of this many previous evaluations", ge=1
    )
    shift_up: float = option(
        0.0, "CUSUM threshold on rises of log D-gradient (p90) at fakes; 0 = off", ge=0
    )
    shift_down: float = option(0.0, "CUSUM threshold on falls of log D-gradient; 0 = off", ge=0)
    escalation: float = option(
        math.log(5),
        "threshold on how far log D-logit magnitude (step-level max) rises above its recent "
        "median (log 5: five times it); 0 = off",
        ge=0,
    )
    confirm_within: int = option(
        5,
        "escalation confirmed: an escalation counts only once quality has fallen by "
        "`confirm_drop` within this many evaluations of it (the trigger is then the "
        "confirming evaluation); 0 = escalations count at once",
        ge=0,
    )
    confirm_drop: float = option(
        0.2,
        "the fall of sustained quality (share of its best) that confirms an escalation",
        ge=0,
        le=1,
    )
    quality_drop: float = option(
        0.0,
        "quality channel: fires when the median quality of the last `quality_window` "
        "evaluations has fallen by this share of the best such median so far (hq x "
        "coverage on mixtures, class quality on images; it needs the quality monitor); "
        "0 = off",
        ge=0,
        le=1,
    )
    quality_window: int = option(3, "quality channel: evaluations in its median", ge=1)
    quality_patience: int = option(
        1, "quality channel: evaluations in a row its fall must last before it counts", ge=1
    )
    quality_floor: float = option(
        0.25,
        "quality channel: watches only once sustained quality has reached this (falls "
        "while still fitting are noise, not collapse)",
        ge=0,
        le=1,
    )


def quality_drop(
    history: History, epochs: list[int], window: int, start: int, floor: float
) -> list[float | None]:
    """1 - (median quality of the last `window` evaluations) / (the best such median
    before): how far sustained quality has fallen from the best it held so far. None
    until that best reaches `floor`: falls from a level the run never really held (noise
    while it is still fitting) are not collapses."""
    q_epochs, quality = bounded_quality(history)
    by_epoch = dict(zip(q_epochs, quality, strict=True))
    seen: list[float] = []
    best: float | None = None
    out: list[float | None] = []
    for index, epoch in enumerate(epochs):
        if epoch in by_epoch:
            seen.append(by_epoch[epoch])
        if len(seen) < window or index < start:
            out.append(None)
            if len(seen) >= window:
                best = max(best or 0.0, statistics.median(seen[-window:]))
            continue
        current = statistics.median(seen[-window:])
        out.append(None if not best or best < floor else max(0.0, 1.0 - current / best))
        best = max(best or 0.0, current)
    return out


def lasting(values: list[float | None], patience: int) -> list[float | None]:
    """Each value as the smallest of the last `patience` (None when one of them is):
    a statistic counts only once it has held that long."""
    if patience <= 1:
        return values
    out: list[float | None] = []
    for i in range(len(values)):
        recent = values[max(0, i - patience + 1) : i + 1]
        out.append(
            min(recent) if len(recent) == patience and None not in recent else None  # type: ignore[type-var]
        )
    return out


def confirmed(
    spikes: list[float | None],
    drops: list[float | None],
    threshold: float,
    within: int,
    drop: float,
) -> list[float | None]:
    """The escalation channel when escalations need confirming: at each evaluation, the
    largest spike of the last `within` + 1 evaluations (in units of `threshold`) where
    quality has fallen by `drop` now, else 0 (None before anything is scored)."""
    out: list[float | None] = []
    for i, fall in enumerate(drops):
        recent = [s for s in spikes[max(0, i - within) : i + 1] if s is not None]
        if not recent and fall is None:
            out.append(None)
        elif fall is not None and fall >= drop and recent:
            out.append(max(recent))
        else:
            out.append(0.0)
    return [None if v is None else v / threshold for v in out]


@register_rule(
    "combined",
    keys=(DGRAD_KEY, STEEPNESS_P90_KEY, LOGIT_MAX_KEY, *FAILING_KEYS, *QUALITY_KEYS),
    config=CombinedRuleConfig,
)
def combined_rule(history: History, cfg: CombinedRuleConfig) -> Timeline:
    """Collapse channels (sustained shifts of D's gradient, escalation of D's logits, a
    sustained fall of quality) and failing channels (a frozen generator, a dominant
    discriminator); docs/collapse.md.

    Score = the largest channel statistic / its threshold: the rule triggers at >= 1 for
    `patience` evaluations (cause "collapse"). Independently, evaluations where G was
    frozen or D dominant for `fail_patience` evaluations in a row are marked FAILING; the
    first of them triggers too (cause "failing") when it comes before a collapse trigger.
    An evaluation is refining only once the run's quality has reached `refine_quality`.
    """
    epochs, (dgrad, s_p90) = series(history, (DGRAD_KEY, STEEPNESS_P90_KEY))
    phases = plateau_phases(ema(s_p90, cfg.ema), cfg, growing=True)
    log_g = [safe_log(v) for v in dgrad]
    channels: list[list[float | None]] = []  # each in units of its threshold
    start = cfg.warmup_epochs

    def scaled(values: list[float | None], threshold: float) -> list[float | None]:
        return [None if v is None else v / threshold for v in values]

    if cfg.shift_up > 0:
        channels.append(
            scaled(level_shift(log_g, cfg.drift, cfg.shift_window, start), cfg.shift_up)
        )
    if cfg.shift_down > 0:
        falls = [None if v is None else -v for v in log_g]
        channels.append(
            scaled(level_shift(falls, cfg.drift, cfg.shift_window, start), cfg.shift_down)
        )
    needs_quality = cfg.quality_drop > 0 or (cfg.escalation > 0 and cfg.confirm_within > 0)
    drops = (
        quality_drop(history, epochs, cfg.quality_window, start, cfg.quality_floor)
        if needs_quality
        else []
    )
    if cfg.escalation > 0:
        logits = [safe_log(v) for v in optional_series(history, epochs, LOGIT_MAX_KEY)]
        spikes = spike(logits, cfg.window, start)
        if cfg.confirm_within > 0:
            channels.append(
                confirmed(spikes, drops, cfg.escalation, cfg.confirm_within, cfg.confirm_drop)
            )
        else:
            channels.append(scaled(spikes, cfg.escalation))
    if cfg.quality_drop > 0:
        channels.append(lasting(scaled(drops, cfg.quality_drop), cfg.quality_patience))
    scores: list[float | None] = []
    for i in range(len(epochs)):
        values = [stat[i] for stat in channels if stat[i] is not None]
        scores.append(max(values) if values else None)  # type: ignore[type-var]
    return mark_failing(history, epochs, finish(epochs, scores, phases, 1.0, cfg), cfg)
