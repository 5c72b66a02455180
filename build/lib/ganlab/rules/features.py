"""Features of a run's history for the learned rule: every channel over a trailing window,
each measured against the run's own early history.

Runs differ in scale by orders of magnitude (a hinge D's logits are not an NS D's; a
DCGAN's gradients are not an MLP's), so a channel's value means nothing until it is set
against what the same run did while it was young: the median of its first `warmup`
evaluations, in units of their spread (at least `min_spread`). At each evaluation, for
each channel: where it stands against that baseline (`level`), how far it moved from the
median of the `recent` evaluations before (`jump`) and its highest level over the last
`recent` (`peak`); and for the run's quality: its value, its fall from the best sustained
value so far, and its change since the last evaluation.

Everything at evaluation i reads only evaluations <= i, so features computed online (the
stopper, epoch by epoch) are the ones a replay computes from the stored history.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ganlab.rules.run_quality import bounded_quality
from ganlab.rules.timeline import History

# (metric key, transform): the channels every run logs (mixtures and images alike)
CHANNELS: tuple[tuple[str, str], ...] = (
    ("train/d_logit_abs_max", "log"),
    ("train/d_logit_abs_mean", "log"),
    ("train/act_d_rms_max", "log"),
    ("train/act_g_rms_max", "log"),
    ("train/g_update_rel", "log"),
    ("train/d_update_rel", "log"),
    ("monitor/grad_norm_d_mean", "log"),
    ("monitor/grad_norm_g_mean", "log"),
    ("monitor/dgrad_fake_p90", "log"),
    ("monitor/dgrad_real_p90", "log"),
    ("monitor/velocity_p90", "log"),
    ("monitor/steepness_p90", "log"),
    ("monitor/steepness_max", "log"),
    ("monitor/d_acc", "raw"),
    ("monitor/d_sign_real", "raw"),
    ("train/loss_d", "raw"),
    ("train/loss_g", "raw"),
)
MIN_SPREAD = {"log": 0.25, "raw": 0.05}  # floors of the early spread, per transform
CLIP = 20.0  # a feature beyond this many spreads says no more than "very far"


@dataclass(frozen=True)
class FeatureSpec:
    """How features are computed; stored with a fitted model so it is applied the same."""

    channels: tuple[tuple[str, str], ...] = CHANNELS
    warmup: int = 5
    recent: int = 3
    # the run's quality as features too; without it, a model of the cheap channels only
    # (on images quality costs a classifier or FID every few epochs)
    quality: bool = True

    def names(self) -> list[str]:
        names = [f"{key}:{part}" for key, _ in self.channels for part in ("level", "jump", "peak")]
        return (
            [*names, "quality:value", "quality:drop", "quality:change"] if self.quality else names
        )


def _transform(value: float | None, how: str) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return math.log(max(value, 1e-12)) if how == "log" else value


def _clip(value: float) -> float:
    return max(-CLIP, min(CLIP, value))


def run_features(history: History, spec: FeatureSpec) -> tuple[list[int], list[list[float]]]:
    """(evaluated epochs >= 1, one feature vector per epoch). Missing values are carried
    forward from the last evaluation that had them (0 before any)."""
    epochs = [e for e, m in history if e >= 1 and m]
    by_epoch = {e: m for e, m in history}
    q_epochs, q_values = bounded_quality(history)
    quality_at = dict(zip(q_epochs, q_values, strict=True))
    columns: list[list[float]] = []
    for key, how in spec.channels:
        raw: list[float | None] = []
        last: float | None = None
        for epoch in epochs:
            value = _transform(by_epoch[epoch].get(key), how)
            last = value if value is not None else last
            raw.append(last)
        seen = [v for v in raw[: spec.warmup] if v is not None]
        base = statistics.median(seen) if seen else 0.0
        spread = statistics.median([abs(v - base) for v in seen]) if seen else 0.0
        spread = max(spread, MIN_SPREAD[how])
        level = [0.0 if v is None else _clip((v - base) / spread) for v in raw]
        jump, peak = [], []
        for i, value in enumerate(level):
            before = level[max(0, i - spec.recent) : i]
            jump.append(_clip(value - statistics.median(before)) if before else 0.0)
            peak.append(max(level[max(0, i - spec.recent + 1) : i + 1]))
        columns += [level, jump, peak]
    value_q, drop_q, change_q = [], [], []
    seen_q: list[float] = []
    best = 0.0
    previous = 0.0
    for epoch in epochs:
        q = quality_at.get(epoch)
        if q is not None:
            seen_q.append(q)
        current = seen_q[-1] if seen_q else 0.0
        sustained = statistics.median(seen_q[-spec.recent :]) if seen_q else 0.0
        best = max(best, sustained)
        value_q.append(current)
        drop_q.append(1.0 - sustained / best if best > 0 else 0.0)
        change_q.append(current - previous)
        previous = current
    if spec.quality:
        columns += [value_q, drop_q, change_q]
    rows = [[column[i] for column in columns] for i in range(len(epochs))]
    return epochs, rows


def logistic(weights: Sequence[float], bias: float, x: Sequence[float]) -> float:
    """The probability of a linear model's positive class at features `x`."""
    z = bias + sum(w * v for w, v in zip(weights, x, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
