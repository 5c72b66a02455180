"""Phase labels and early-stopping rules (docs/method.md section 5).

A rule is a pure function of a run's metric history (epoch -> logged metrics): it returns
a `Timeline` with a score and a phase label per evaluation, the epoch where it triggers
and the epoch it would stop at. The online `EarlyStopper` re-applies the rule to the
growing history after every epoch, so a replay on stored histories (ganlab.study.replay) gives
exactly the decisions the run made, and any rule with any parameters can be judged later
without retraining.

Phases: 0 fitting, 1 refining, 2 collapsing. Fitting ends when the rule's progress
signal plateaus; collapsing starts at the trigger. No trigger is a valid outcome.

Rules:
- `gradient`: collapse score c_t = log(g_t / g_ref) + beta * max(0, log(S_ref / S_t)),
  g = EMA of the discriminator gradient at fakes (p90), S = EMA of the steepness maximum.
  Scoring starts after `warmup_epochs` evaluations (`score_from=warmup`) or also not
  before fitting has ended (`score_from=plateau`). References (`reference`): `running`,
  g_ref the running minimum and S_ref the running maximum since scoring started;
  `recent`, the medians of the previous `window` evaluations. A generator that
  *settles* keeps its maximum steepness (steep only at mode boundaries) while its p90
  falls, so settling does not raise the score; dropping modes removes boundaries and
  lowers the maximum, which does. Triggers when c_t >= tau for `patience` evaluations.
- `duality_gap`: relative rise of the EMA of the duality gap above its running minimum.
- `oracle`: stops at the epoch of best quality (needs the whole run: the judge, not a
  detector). Quality = hq_fraction * modes_covered / n_modes for mixtures, -FID for
  images (so regret on images is in FID points).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ganlab.config import EarlyStopConfig
from ganlab.detectors import dominant, frozen, level_shift, persistent, safe_log

History = Sequence[tuple[int, Mapping[str, float]]]  # (epoch, metrics), epochs ascending

FITTING, REFINING, COLLAPSING, FAILING = 0, 1, 2, 3
PHASE_NAMES = {
    FITTING: "fitting",
    REFINING: "refining",
    COLLAPSING: "collapsing",
    FAILING: "failing",
}

DGRAD_KEY = "monitor/dgrad_fake_p90"
STEEPNESS_P90_KEY = "monitor/steepness_p90"
STEEPNESS_MAX_KEY = "monitor/steepness_max"
DUALITY_GAP_KEY = "monitor/duality_gap"
LOGIT_MAX_KEY = "train/d_logit_abs_max"
G_UPDATE_KEY = "train/g_update_rel"
D_ACC_KEY = "monitor/d_acc"


@dataclass
class Timeline:
    """A rule's reading of one history; lists are aligned with `epochs`."""

    epochs: list[int] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    phases: list[int] = field(default_factory=list)
    trigger_epoch: int | None = None
    stop_epoch: int | None = None
    # what the trigger saw: "collapse" or "failing" (the run never fitted); None: no trigger
    cause: str | None = None
    failing_epoch: int | None = None  # first evaluation marked failing, if any

    def phase_at(self, epoch: int) -> int:
        """Phase of `epoch`: that of the latest evaluation at or before it."""
        phase = FITTING
        for e, p in zip(self.epochs, self.phases, strict=True):
            if e > epoch:
                break
            phase = p
        return phase


def _ema(values: Sequence[float], weight: float) -> list[float]:
    smoothed: list[float] = []
    for value in values:
        smoothed.append(value if not smoothed else weight * value + (1 - weight) * smoothed[-1])
    return smoothed


def _series(history: History, keys: Sequence[str]) -> tuple[list[int], list[list[float]]]:
    """Epochs >= 1 where all `keys` were logged (and finite), and their values per key."""
    epochs: list[int] = []
    columns: list[list[float]] = [[] for _ in keys]
    for epoch, metrics in history:
        if epoch < 1 or not all(k in metrics and math.isfinite(metrics[k]) for k in keys):
            continue
        epochs.append(epoch)
        for column, key in zip(columns, keys, strict=True):
            column.append(float(metrics[key]))
    return epochs, columns


def _plateau_phases(progress: Sequence[float], cfg: EarlyStopConfig, growing: bool) -> list[int]:
    """FITTING until the progress signal changes by less than plateau_tol over `window`
    evaluations (growing: relative rise; else relative fall), REFINING from then on."""
    phases, refining = [], False
    for i, value in enumerate(progress):
        if not refining and i >= cfg.window:
            before = progress[i - cfg.window]
            change = (value - before) if growing else (before - value)
            refining = change < cfg.plateau_tol * max(abs(before), 1e-12)
        phases.append(REFINING if refining else FITTING)
    return phases


def _trigger(
    epochs: list[int], scores: list[float | None], threshold: float, cfg: EarlyStopConfig
) -> tuple[int | None, int | None]:
    """(trigger index, stop index): first run of `patience` scores >= threshold, and the
    lowest score among the patience + window evaluations up to the trigger."""
    streak = 0
    for i, score in enumerate(scores):
        streak = streak + 1 if score is not None and score >= threshold else 0
        if streak == cfg.patience:
            candidates = [
                j
                for j in range(max(0, i - cfg.patience - cfg.window + 1), i + 1)
                if scores[j] is not None
            ]
            # lowest score; among equals the latest (more training at the same health)
            stop = min(candidates, key=lambda j: (scores[j], -j))
            return i, stop
    return None, None


def _finish(
    epochs: list[int],
    scores: list[float | None],
    phases: list[int],
    threshold: float,
    cfg: EarlyStopConfig,
) -> Timeline:
    trigger, stop = _trigger(epochs, scores, threshold, cfg)
    if trigger is not None:
        phases = phases[:trigger] + [COLLAPSING] * (len(phases) - trigger)
    return Timeline(
        epochs=epochs,
        scores=scores,
        phases=phases,
        trigger_epoch=None if trigger is None else epochs[trigger],
        stop_epoch=None if stop is None else epochs[stop],
        cause=None if trigger is None else "collapse",
    )


def _optional_series(history: History, epochs: Sequence[int], key: str) -> list[float | None]:
    """`key` at each of `epochs` (None where it was not logged or not finite)."""
    by_epoch = {
        epoch: float(metrics[key])
        for epoch, metrics in history
        if key in metrics and math.isfinite(metrics[key])
    }
    return [by_epoch.get(epoch) for epoch in epochs]


def _spike(series: Sequence[float | None], window: int, start: int) -> list[float | None]:
    """How far each value rises above the median of the `window` values before it."""
    out: list[float | None] = []
    seen: list[float] = []
    for index, x in enumerate(series):
        if x is None or len(seen) < window or index < start:
            out.append(None)
        else:
            out.append(max(0.0, x - statistics.median(seen[-window:])))
        if x is not None:
            seen.append(x)
    return out


def combined_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """Collapse channels (sustained shifts of D's gradient, escalation of D's logits) and
    failing channels (a frozen generator, a dominant discriminator); docs/collapse.md.

    Score = the largest channel statistic / its threshold: the rule triggers at >= 1 for
    `patience` evaluations (cause "collapse"). Independently, evaluations where G was
    frozen or D dominant for `fail_patience` evaluations in a row are marked FAILING; the
    first of them triggers too (cause "failing") when it comes before a collapse trigger,
    and is its own stop epoch: a run that never fitted has nothing better to keep.
    """
    epochs, (dgrad, s_p90) = _series(history, (DGRAD_KEY, STEEPNESS_P90_KEY))
    phases = _plateau_phases(_ema(s_p90, cfg.ema), cfg, growing=True)
    log_g = [safe_log(v) for v in dgrad]
    channels: list[tuple[list[float | None], float]] = []
    start = cfg.warmup_epochs
    if cfg.shift_up > 0:
        channels.append((level_shift(log_g, cfg.drift, cfg.shift_window, start), cfg.shift_up))
    if cfg.shift_down > 0:
        falls = [None if v is None else -v for v in log_g]
        channels.append((level_shift(falls, cfg.drift, cfg.shift_window, start), cfg.shift_down))
    if cfg.escalation > 0:
        logits = [safe_log(v) for v in _optional_series(history, epochs, LOGIT_MAX_KEY)]
        channels.append((_spike(logits, cfg.window, start), cfg.escalation))
    scores: list[float | None] = []
    for i in range(len(epochs)):
        values = [stat[i] / threshold for stat, threshold in channels if stat[i] is not None]
        scores.append(max(values) if values else None)

    frozen_flags = frozen(_optional_series(history, epochs, G_UPDATE_KEY), cfg.frozen_tol)
    dominant_flags = (
        dominant(_optional_series(history, epochs, D_ACC_KEY), cfg.dominance)
        if cfg.dominance < 1.0
        else [False] * len(epochs)
    )
    failing = persistent(
        [a or b for a, b in zip(frozen_flags, dominant_flags, strict=True)], cfg.fail_patience
    )
    timeline = _finish(epochs, scores, phases, 1.0, cfg)
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


def gradient_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    epochs, (dgrad, s_p90, s_max) = _series(
        history, (DGRAD_KEY, STEEPNESS_P90_KEY, STEEPNESS_MAX_KEY)
    )
    g, p90, smax = (_ema(v, cfg.ema) for v in (dgrad, s_p90, s_max))
    phases = _plateau_phases(p90, cfg, growing=True)
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
    return _finish(epochs, scores, phases, cfg.tau, cfg)


def duality_gap_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    epochs, (gap,) = _series(history, (DUALITY_GAP_KEY,))
    smooth = _ema(gap, cfg.ema)
    scores: list[float | None] = []
    low = None
    for i, value in enumerate(smooth):
        if i < cfg.warmup_epochs:
            scores.append(None)
            continue
        low = value if low is None else min(low, value)
        scores.append((value - low) / max(abs(low), 1e-6))
    return _finish(epochs, scores, _plateau_phases(smooth, cfg, growing=False), cfg.dg_tol, cfg)


def mixture_quality(metrics: Mapping[str, float], n_modes: int) -> float | None:
    """hq_fraction * modes_covered / n_modes: high only when samples are both sharp and
    spread over all modes."""
    if "quality/hq_fraction" not in metrics or "quality/modes_covered" not in metrics:
        return None
    return metrics["quality/hq_fraction"] * metrics["quality/modes_covered"] / n_modes


def n_modes_of(history: History) -> int:
    """Number of modes, read off the per-mode counts the quality monitor logs."""
    for _, metrics in history:
        count = sum(1 for k in metrics if k.startswith("quality/mode_hq_count/"))
        if count:
            return count
    return 1


# Image runs are judged by FID (lower is better), Inception FID first when logged.
FID_PREFIXES = ("quality/fid", "quality/classifier_fid", "quality/domain_fid")


def fid_key(history: History) -> str | None:
    """The FID-family metric an image run logged, by preference."""
    keys = {k for _, metrics in history for k in metrics}
    for prefix in FID_PREFIXES:
        found = sorted(k for k in keys if k.startswith(prefix))
        if found:
            return found[0]
    return None


def quality_series(history: History) -> tuple[list[int], list[float]]:
    """Quality per evaluated epoch >= 1, higher is better: hq_fraction x modes_covered /
    n_modes for mixtures, minus FID for images."""
    n_modes = n_modes_of(history)
    key = None if any("quality/hq_fraction" in m for _, m in history) else fid_key(history)
    epochs, values = [], []
    for epoch, metrics in history:
        q = (
            mixture_quality(metrics, n_modes)
            if key is None
            else (-metrics[key] if key in metrics else None)
        )
        if epoch >= 1 and q is not None:
            epochs.append(epoch)
            values.append(q)
    return epochs, values


def oracle_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
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


def no_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    return Timeline()


RULES: dict[str, Callable[[History, EarlyStopConfig], Timeline]] = {
    "gradient": gradient_rule,
    "combined": combined_rule,
    "duality_gap": duality_gap_rule,
    "oracle": oracle_rule,
    "none": no_rule,
}
RULE_KEYS = {
    "gradient": (DGRAD_KEY, STEEPNESS_P90_KEY, STEEPNESS_MAX_KEY),
    "combined": (DGRAD_KEY, STEEPNESS_P90_KEY, LOGIT_MAX_KEY, G_UPDATE_KEY, D_ACC_KEY),
    "duality_gap": (DUALITY_GAP_KEY,),
    "oracle": ("quality/hq_fraction", "quality/modes_covered"),
    "none": (),
}


def apply_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    return RULES[cfg.rule](history, cfg)


class EarlyStopper:
    """Online use of a rule: feed each epoch's metrics, read the decision."""

    def __init__(self, cfg: EarlyStopConfig, history: list | None = None) -> None:
        self.cfg = cfg
        self.keys = RULE_KEYS[cfg.rule]
        self.history: list[tuple[int, dict[str, float]]] = [
            (int(epoch), dict(metrics)) for epoch, metrics in (history or [])
        ]
        self.timeline = apply_rule(self.history, cfg)

    @property
    def triggered(self) -> bool:
        return self.timeline.trigger_epoch is not None

    def update(self, epoch: int, metrics: Mapping[str, float]) -> dict[str, float]:
        """Record this epoch; return the metrics to log (`phase`, `early_stop/score`)."""
        kept = {k: float(metrics[k]) for k in self.keys if k in metrics}
        if kept:
            self.history.append((epoch, kept))
            self.timeline = apply_rule(self.history, self.cfg)
        logged = {"phase": float(self.timeline.phase_at(epoch))}
        if self.timeline.epochs and self.timeline.epochs[-1] == epoch:
            score = self.timeline.scores[-1]
            if score is not None:
                logged["early_stop/score"] = score
        return logged

    def state_dict(self) -> dict[str, Any]:
        return {"history": [[epoch, metrics] for epoch, metrics in self.history]}
