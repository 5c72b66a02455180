"""The failing channels, shared by the rules that mark runs that never fitted: a frozen
generator (its parameters stop moving: a saturated minimax loss) or a dominant
discriminator (its balanced accuracy stays high), for `fail_patience` evaluations."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.early_stop import EarlyStopConfig
from ganlab.config.fields import option
from ganlab.rules.detectors import dominant, frozen, persistent
from ganlab.rules.run_quality import bounded_quality
from ganlab.rules.timeline import (
    D_ACC_KEY,
    FAILING,
    G_UPDATE_KEY,
    History,
    Timeline,
    gate_by_quality,
    optional_series,
)

FAILING_KEYS = (G_UPDATE_KEY, D_ACC_KEY)
# a DCGAN at CPU scale draws every digit readably at class quality 0.3-0.4: images count as
# fitted at half the mixtures' level (the benchmark's labels do the same)
IMAGE_FIT_SHARE = 0.5


@dataclass
class FailingChannelsConfig(EarlyStopConfig):
    frozen_tol: float = option(
        1e-4, "G's relative parameter change per epoch below this = frozen", ge=0
    )
    dominance: float = option(
        0.75, "D's balanced accuracy at or above this = dominant; 1 = off", ge=0.5, le=1
    )
    fail_patience: int = option(
        10, "evaluations G frozen or D dominant that mark a run failing", ge=1
    )
    refine_quality: float = option(
        0.5,
        "an evaluation is labelled refining only once the run's sustained quality (median "
        "of its last `window` evaluations) has reached this on mixtures, half of it on "
        "images (class quality), the benchmark's fitted levels: a run still at quality 0 "
        "is fitting, however flat its steepness (0 = steepness alone decides, as before)",
        ge=0,
        le=1,
    )


def mark_failing(
    history: History, epochs: list[int], timeline: Timeline, cfg: FailingChannelsConfig
) -> Timeline:
    """Evaluations where G was frozen or D dominant for `fail_patience` in a row become
    FAILING (until a collapse trigger); the first of them triggers (cause "failing") when
    it comes before a collapse trigger."""
    q_epochs, q_values = bounded_quality(history)
    images = not any("quality/hq_fraction" in m for _, m in history)  # class quality
    timeline.phases = gate_by_quality(
        timeline.phases,
        epochs,
        dict(zip(q_epochs, q_values, strict=True)),
        cfg.refine_quality * (IMAGE_FIT_SHARE if images else 1.0),
        cfg.window,
    )
    frozen_flags = frozen(optional_series(history, epochs, G_UPDATE_KEY), cfg.frozen_tol)
    dominant_flags = (
        dominant(optional_series(history, epochs, D_ACC_KEY), cfg.dominance)
        if cfg.dominance < 1.0
        else [False] * len(epochs)
    )
    failing = persistent(
        [a or b for a, b in zip(frozen_flags, dominant_flags, strict=True)], cfg.fail_patience
    )
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
            timeline.trigger_epoch = epochs[first_failing]
            timeline.cause = "failing"
    return timeline
