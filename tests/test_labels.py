"""The benchmark's ground truth: labels of synthetic quality histories with known answers."""

from __future__ import annotations

import random

import pytest

from ganlab.study.labels import (
    AMBIGUOUS,
    COLLAPSED,
    HEALTHY,
    NEVER_FITTED,
    RECOVERING,
    LabelCriteria,
    label_run,
    rolling_median,
)


def label(quality: list[float], **criteria):
    return label_run(list(range(1, len(quality) + 1)), quality, LabelCriteria(**criteria))


RISE = [0.0, 0.1, 0.3, 0.5, 0.7, 0.8]  # fitted from epoch 4-5 on


def test_rolling_median_is_centred_and_shrinks_at_the_ends() -> None:
    assert rolling_median([1, 9, 2, 8, 3], 3) == [1, 2, 8, 3, 3]


def test_a_run_that_fits_and_stays_is_healthy() -> None:
    result = label(RISE + [0.85, 0.8, 0.9, 0.82, 0.88] * 4)
    assert result.label == HEALTHY
    assert result.fit_epoch == 4
    assert result.onset_epoch is None


def test_one_epoch_crashes_it_comes_back_from_make_it_recovering() -> None:
    quality = RISE + [0.85, 0.9, 0.0, 0.88, 0.9, 0.86, 0.1, 0.9, 0.9, 0.9, 0.88, 0.9]
    result = label(quality)
    assert result.label == RECOVERING
    assert result.crash_epochs == (9, 13)


def test_fitted_then_low_for_the_rest_of_the_run_is_collapsed_with_its_onset() -> None:
    quality = RISE + [0.85] * 10 + [0.05, 0.1, 0.0, 0.2, 0.1, 0.0, 0.05, 0.1, 0.0, 0.1]
    result = label(quality)
    assert result.label == COLLAPSED
    assert result.onset_epoch == 17
    assert result.best_epoch == 7  # the best epoch before the onset (the earliest of ties)
    assert result.fit_epoch == 4


def test_wild_oscillation_after_a_collapse_is_judged_on_its_persistent_level() -> None:
    """At high D learning rates quality swings 0.0-0.9 between epochs; the sustained
    (median) level decides, not single epochs."""
    rng = random.Random(0)
    fitted = [rng.choice([0.5, 0.8, 0.9, 0.85, 0.2]) for _ in range(15)]
    after = [rng.choice([0.0, 0.05, 0.1, 0.6, 0.02]) for _ in range(15)]
    result = label(RISE + fitted + after)
    assert result.label == COLLAPSED
    assert 21 <= result.onset_epoch <= 24


def test_a_collapse_too_close_to_the_end_is_ambiguous_not_forced() -> None:
    result = label(RISE + [0.85] * 15 + [0.0, 0.05, 0.1])
    assert result.label == AMBIGUOUS
    assert "too late" in result.reason


def test_degraded_but_not_collapsed_is_ambiguous() -> None:
    result = label(RISE + [0.85] * 6 + [0.45, 0.48, 0.44, 0.46] * 4)
    assert result.label == AMBIGUOUS
    assert "degraded" in result.reason


@pytest.mark.parametrize(
    ("quality", "expected"),
    [
        ([0.0, 0.05, 0.2, 0.25, 0.22, 0.2, 0.24] * 4, NEVER_FITTED),  # stuck at 2 of 8 modes
        ([0.0] * 30, NEVER_FITTED),  # frozen generator
        ([0.0, 0.9, 0.0, 0.9, 0.0, 0.0, 0.9, 0.0] * 3, NEVER_FITTED),  # spikes, never held
        ([0.1, 0.3, 0.4, 0.45, 0.4, 0.42] * 4, AMBIGUOUS),  # a weak fit
    ],
)
def test_runs_that_never_held_quality(quality: list[float], expected: str) -> None:
    assert label(quality).label == expected


def test_thresholds_are_parameters() -> None:
    quality = [0.1, 0.3] + [0.4, 0.45, 0.4, 0.42] * 5
    assert label(quality, fit_level=0.4).label == HEALTHY
    assert label(quality, fail_level=0.5, fit_level=0.6).label == NEVER_FITTED


def test_no_quality_logged_is_ambiguous() -> None:
    assert label_run([], []).label == AMBIGUOUS
