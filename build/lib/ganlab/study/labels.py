"""What happened in a run, read off its own quality history: the benchmark's ground truth.

A stopping rule is judged against these labels, so they use what a rule may not: the
whole run, future included. Quality oscillates hard at high discriminator learning rates
(0.0 and 0.9 in consecutive epochs for tens of epochs), so every label rests on
*persistent* behaviour: a centred rolling median of `window` evaluations ("sustained
quality"), and runs that fit no definition are labelled `ambiguous` instead of being
forced into one. The definitions (docs/collapse.md has them with examples):

- best = the highest sustained quality of the run;
- `never_fitted`: best < `fail_level`: the run never held even a low quality;
- `ambiguous` (weak fit): `fail_level` <= best < `fit_level`;
- otherwise the run *fitted*, first at `fit_epoch` (sustained quality >= `fit_level`).
  Let `low` = `drop_ratio` x best. After the last evaluation at which sustained quality
  was >= `fit_level`, look at the rest of the run (the tail):
  - tail shorter than `min_tail` evaluations and not ending low: the run ended fitted.
    `recovering` if some evaluation after `fit_epoch` had raw quality < `low` (a crash
    it came back from), else `healthy`;
  - tail of >= `min_tail` evaluations with at least `tail_share` of its sustained values
    < `low`, ending low: `collapsed` (fitted, then collapsed for the rest of the run);
    the onset is the first evaluation of the tail with raw quality < `low`;
  - anything else (a long tail at middling quality, or a drop too close to the end to
    call it permanent): `ambiguous`, with the reason.
- `partial` (mode dropping), checked on fitted runs that did not collapse: the modes (or
  classes) covered fell for good to at most (1 - `partial_share`) of those covered at
  the run's best, i.e. a permanent loss of at least a third of them: the last
  `min_tail` or more evaluations, `tail_share` of their sustained counts that low,
  ending low. Quality may stay above `low` (8 modes to 5 keeps 0.56 of 0.9), so the
  quality-based labels above would call such a run healthy; a GAN researcher calls it
  mode dropping. The onset is the first evaluation of that tail at or below the level.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

HEALTHY = "healthy"
RECOVERING = "recovering"
COLLAPSED = "collapsed"
PARTIAL = "partial"
NEVER_FITTED = "never_fitted"
AMBIGUOUS = "ambiguous"
LABELS = (HEALTHY, RECOVERING, COLLAPSED, PARTIAL, NEVER_FITTED, AMBIGUOUS)


@dataclass(frozen=True)
class LabelCriteria:
    """Thresholds of the definitions above; quality in [0, 1], higher is better."""

    window: int = 5  # evaluations in the centred rolling median
    fit_level: float = 0.5  # sustained quality that counts as fitted
    fail_level: float = 0.3  # best sustained quality below this: never fitted
    drop_ratio: float = 0.5  # "low" = drop_ratio x best sustained quality
    min_tail: int = 8  # evaluations a collapse must last, to the end, to be permanent
    tail_share: float = 0.8  # share of the tail's sustained values that must be low
    partial_share: float = 1 / 3  # share of the best's modes lost for good: `partial`


@dataclass(frozen=True)
class RunLabel:
    """The label of one run and the epochs that define it."""

    label: str
    reason: str
    best: float  # best sustained quality
    best_epoch: int | None  # epoch of best raw quality (before the onset for collapses)
    fit_epoch: int | None = None
    onset_epoch: int | None = None  # collapsed runs: first epoch of the final collapse
    crash_epochs: tuple[int, ...] = ()  # fitted runs: raw quality < low after fitting


def rolling_median(values: Sequence[float], window: int) -> list[float]:
    """Centred median of `window` values (fewer at the ends). Of an even count, the
    lower middle value: averaging two would invent a level the run never held."""
    half = window // 2
    return [
        statistics.median_low(values[max(0, i - half) : i + half + 1]) for i in range(len(values))
    ]


def label_run(
    epochs: Sequence[int],
    quality: Sequence[float],
    criteria: LabelCriteria | None = None,
    modes: Sequence[float] | None = None,
) -> RunLabel:
    """Label one run from its quality per evaluated epoch (epochs ascending) and, when
    given, the modes (classes) it covered at each of them (for `partial`)."""
    criteria = criteria or LabelCriteria()
    label = _label_by_quality(epochs, quality, criteria)
    if modes is None or label.label in (COLLAPSED, NEVER_FITTED) or label.fit_epoch is None:
        return label
    return _partial(epochs, quality, modes, criteria, label) or label


def _partial(
    epochs: Sequence[int],
    quality: Sequence[float],
    modes: Sequence[float],
    c: LabelCriteria,
    label: RunLabel,
) -> RunLabel | None:
    """`partial` when the modes covered fell for good to (1 - partial_share) of the best's."""
    sustained_q = rolling_median(quality, c.window)
    sustained_m = rolling_median(modes, c.window)
    best = max(range(len(sustained_q)), key=lambda i: (sustained_q[i], -i))
    at_best = sustained_m[best]
    level = (1 - c.partial_share) * at_best
    if at_best <= 0:
        return None
    above = [i for i in range(best, len(modes)) if sustained_m[i] > level]
    tail = list(range((above[-1] if above else best) + 1, len(modes)))
    if len(tail) < c.min_tail or sustained_m[-1] > level:
        return None
    low_share = sum(sustained_m[i] <= level for i in tail) / len(tail)
    if low_share < c.tail_share:
        return None
    onset = next((i for i in tail if modes[i] <= level), tail[0])
    return RunLabel(
        PARTIAL,
        f"fitted at epoch {label.fit_epoch} with {at_best:g} modes covered; at most "
        f"{level:.1f} from epoch {epochs[onset]} to the end ({len(tail)} evaluations, "
        f"{low_share:.0%} of them low) while quality stayed above {c.drop_ratio:g} x best",
        label.best,
        epochs[max(range(onset), key=lambda i: (quality[i], -i))],
        fit_epoch=label.fit_epoch,
        onset_epoch=epochs[onset],
        crash_epochs=label.crash_epochs,
    )


def _label_by_quality(
    epochs: Sequence[int], quality: Sequence[float], criteria: LabelCriteria
) -> RunLabel:
    if not epochs:
        return RunLabel(AMBIGUOUS, "no quality was logged", 0.0, None)
    c = criteria
    sustained = rolling_median(quality, c.window)
    best = max(sustained)
    best_raw = max(range(len(quality)), key=lambda i: (quality[i], -i))
    if best < c.fail_level:
        return RunLabel(
            NEVER_FITTED,
            f"best sustained quality {best:.2f} < {c.fail_level}",
            best,
            epochs[best_raw],
        )
    if best < c.fit_level:
        return RunLabel(
            AMBIGUOUS,
            f"weak fit: best sustained quality {best:.2f} in [{c.fail_level}, {c.fit_level})",
            best,
            epochs[best_raw],
        )
    fitted = [i for i, s in enumerate(sustained) if s >= c.fit_level]
    first_fit, last_fit = fitted[0], fitted[-1]
    low = c.drop_ratio * best
    tail = list(range(last_fit + 1, len(quality)))
    ends_low = sustained[-1] < low
    crashes = tuple(epochs[i] for i in range(first_fit, len(quality)) if quality[i] < low)
    if len(tail) < c.min_tail and not ends_low:
        before_tail_crashes = tuple(e for e in crashes if e <= epochs[last_fit])
        label = RECOVERING if before_tail_crashes else HEALTHY
        reason = f"fitted at epoch {epochs[first_fit]}, " + (
            f"crashed below {low:.2f} at epochs {list(before_tail_crashes)} and came back"
            if before_tail_crashes
            else f"never below {low:.2f} after"
        )
        return RunLabel(
            label,
            reason,
            best,
            epochs[best_raw],
            fit_epoch=epochs[first_fit],
            crash_epochs=before_tail_crashes,
        )
    low_share = sum(sustained[i] < low for i in tail) / len(tail) if tail else 0.0
    if len(tail) >= c.min_tail and ends_low and low_share >= c.tail_share:
        onset = (
            next(i for i in tail if quality[i] < low)
            if any(quality[i] < low for i in tail)
            else tail[0]
        )
        before = max(range(onset), key=lambda i: (quality[i], -i))
        return RunLabel(
            COLLAPSED,
            f"fitted at epoch {epochs[first_fit]}, below {low:.2f} from epoch {epochs[onset]} "
            f"to the end ({len(tail)} evaluations, {low_share:.0%} of them low)",
            best,
            epochs[before],
            fit_epoch=epochs[first_fit],
            onset_epoch=epochs[onset],
            crash_epochs=crashes,
        )
    if ends_low:
        reason = (
            f"dropped below {low:.2f} only {len(tail)} evaluations before the end "
            f"(< {c.min_tail}): too late to call it permanent"
            if len(tail) < c.min_tail
            else f"ended low but only {low_share:.0%} of the last {len(tail)} evaluations "
            f"were low (< {c.tail_share:.0%})"
        )
    else:
        reason = (
            f"the last {len(tail)} evaluations stayed between {low:.2f} and {c.fit_level} "
            "(degraded, not collapsed)"
        )
    return RunLabel(
        AMBIGUOUS,
        reason,
        best,
        epochs[best_raw],
        fit_epoch=epochs[first_fit],
        crash_epochs=crashes,
    )
