"""The combined rule: collapse channels (sustained shifts of D's gradient, escalation of
D's logits) and failing channels (a frozen generator, a dominant discriminator)."""

from __future__ import annotations

import statistics

from ganlab.config import EarlyStopConfig
from ganlab.rules.detectors import dominant, frozen, level_shift, persistent, safe_log
from ganlab.rules.rule import register_rule
from ganlab.rules.run_quality import bounded_quality
from ganlab.rules.timeline import (
    D_ACC_KEY,
    DGRAD_KEY,
    FAILING,
    G_UPDATE_KEY,
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


@register_rule(
    "combined",
    keys=(DGRAD_KEY, STEEPNESS_P90_KEY, LOGIT_MAX_KEY, G_UPDATE_KEY, D_ACC_KEY, *QUALITY_KEYS),
)
def combined_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """Collapse channels (sustained shifts of D's gradient, escalation of D's logits) and
    failing channels (a frozen generator, a dominant discriminator); docs/collapse.md.

    Score = the largest channel statistic / its threshold: the rule triggers at >= 1 for
    `patience` evaluations (cause "collapse"). Independently, evaluations where G was
    frozen or D dominant for `fail_patience` evaluations in a row are marked FAILING; the
    first of them triggers too (cause "failing") when it comes before a collapse trigger,
    and is its own stop epoch: a run that never fitted has nothing better to keep.
    """
    epochs, (dgrad, s_p90) = series(history, (DGRAD_KEY, STEEPNESS_P90_KEY))
    phases = plateau_phases(ema(s_p90, cfg.ema), cfg, growing=True)
    log_g = [safe_log(v) for v in dgrad]
    channels: list[tuple[list[float | None], float]] = []
    start = cfg.warmup_epochs
    if cfg.shift_up > 0:
        channels.append((level_shift(log_g, cfg.drift, cfg.shift_window, start), cfg.shift_up))
    if cfg.shift_down > 0:
        falls = [None if v is None else -v for v in log_g]
        channels.append((level_shift(falls, cfg.drift, cfg.shift_window, start), cfg.shift_down))
    if cfg.escalation > 0:
        logits = [safe_log(v) for v in optional_series(history, epochs, LOGIT_MAX_KEY)]
        channels.append((spike(logits, cfg.window, start), cfg.escalation))
    if cfg.quality_drop > 0:
        drops = quality_drop(history, epochs, cfg.window, start, cfg.quality_floor)
        channels.append((drops, cfg.quality_drop))
    scores: list[float | None] = []
    for i in range(len(epochs)):
        values = [stat[i] / threshold for stat, threshold in channels if stat[i] is not None]
        scores.append(max(values) if values else None)

    frozen_flags = frozen(optional_series(history, epochs, G_UPDATE_KEY), cfg.frozen_tol)
    dominant_flags = (
        dominant(optional_series(history, epochs, D_ACC_KEY), cfg.dominance)
        if cfg.dominance < 1.0
        else [False] * len(epochs)
    )
    failing = persistent(
        [a or b for a, b in zip(frozen_flags, dominant_flags, strict=True)], cfg.fail_patience
    )
    timeline = finish(epochs, scores, phases, 1.0, cfg)
    collapse_at = (
        len(epochs) if timeline.trigger_epoch is None else epochs.index(timeline.trigger_epoch)
    )
    timeline.phases = [
        FAILING if failing[i] and i < collapse_at else phase
        for i, phase in enumerate(timeline.phases)
    ]
    first_failing = next((i for i, flag in enumerate(failing) if flag), None)
    if first_failing is not None:
        timeline.failing_epoch = epochs[first_failing]
        if first_failing < collapse_at:
            timeline.trigger_epoch = timeline.stop_epoch = epochs[first_failing]
            timeline.cause = "failing"
    return timeline
