"""Detectors and the combined rule on synthetic histories with known answers."""

from __future__ import annotations

import math
import random

import pytest

from ganlab.rules import (
    COLLAPSING,
    D_ACC_KEY,
    DGRAD_KEY,
    FAILING,
    G_UPDATE_KEY,
    LOGIT_MAX_KEY,
    STEEPNESS_P90_KEY,
    apply_rule,
    rule_config,
)
from ganlab.rules.detectors import dominant, frozen, level_shift, persistent
from tests.support import assert_online_equals_replay


def test_cusum_accumulates_a_sustained_shift_but_drains_after_a_spike() -> None:
    base = [0.0] * 6
    shifted = level_shift(base + [1.0] * 5, drift=0.25, window=3)
    # +0.75 while the median of the 3 values before is still 0 (two evaluations), then
    # the median has moved to 1 and the sum drains by the drift
    assert shifted[6:] == pytest.approx([0.75, 1.5, 1.25, 1.0, 0.75])
    spike = level_shift(base + [1.0] + [0.0] * 4, drift=0.25, window=3)
    assert spike[6:] == pytest.approx([0.75, 0.5, 0.25, 0.0, 0.0])
    # a longer window lets a shift add up for longer: 3 evaluations of 0.75 with 5
    assert max(level_shift(base + [1.0] * 5, drift=0.25, window=5)[6:]) == pytest.approx(2.25)


def test_cusum_follows_a_slow_trend_without_accumulating() -> None:
    """D's gradient grows steadily while D learns (fitting): each step stays within the
    drift of the recent median, so nothing adds up."""
    trend = [0.1 * i for i in range(40)]
    assert max(v for v in level_shift(trend, drift=0.25, window=3) if v is not None) == 0.0


def test_cusum_waits_for_its_window_and_start() -> None:
    stats = level_shift([0.0, 1.0, 2.0, 3.0, 4.0], drift=0.0, window=2, start=3)
    assert stats[:3] == [None, None, None]
    assert stats[3] == pytest.approx(3.0 - 1.5)


def test_missing_values_carry_the_state_over() -> None:
    stats = level_shift([0.0, 0.0, 0.0, 2.0, None, 2.0], drift=0.5, window=3)
    assert stats[3:] == pytest.approx([1.5, 1.5, 3.0])


def test_failing_flags() -> None:
    assert frozen([0.1, 1e-6, None, 0.0], tol=1e-4) == [False, True, False, True]
    assert dominant([0.5, 0.96, None, 0.95], level=0.95) == [False, True, False, True]
    assert persistent([True, True, False, True, True, True], 2) == [
        False,
        True,
        False,
        False,
        True,
        True,
    ]


def history(dgrad, g_update=None, d_acc=None, logits=None, steep=None):
    rows = []
    for i, g in enumerate(dgrad):
        m = {DGRAD_KEY: g, STEEPNESS_P90_KEY: (steep or [5.0] * len(dgrad))[i]}
        for key, series in ((G_UPDATE_KEY, g_update), (D_ACC_KEY, d_acc), (LOGIT_MAX_KEY, logits)):
            if series is not None and series[i] is not None:
                m[key] = series[i]
        rows.append((i + 1, m))
    return rows


# explicit channel settings: the tests read their epochs off by hand, whatever the defaults
COMBINED = dict(
    rule="combined",
    confirm_within=0,  # escalations count at once unless a test says otherwise
    warmup_epochs=3,
    window=3,
    ema=1.0,
    patience=1,
    shift_window=5,
    escalation=0.0,
    dominance=0.95,
    fail_patience=5,
)


def test_combined_rule_catches_a_level_shift_a_spike_rule_absorbs() -> None:
    """The permanent collapses of the benchmark: D's gradient at fakes rises ~5x and
    stays there. A 'recent median' spike detector sees one jump and then a new normal."""
    dgrad = [10.0] * 12 + [50.0] * 10
    cfg = rule_config(**{**COMBINED, "shift_up": 3.0, "drift": 0.3})
    timeline = apply_rule(history(dgrad), cfg)
    # log 5 - 0.3 = 1.31 per evaluation: 1.31, 2.62, 3.93 >= 3 at the 3rd (epoch 15)
    assert timeline.trigger_epoch == 15
    assert timeline.cause == "collapse"
    assert timeline.phases[14:] == [COLLAPSING] * 8
    spike_rule = rule_config("gradient", reference="recent", ema=1.0, tau=2.0, warmup_epochs=3)
    assert apply_rule(history(dgrad), spike_rule).trigger_epoch is None  # log 5 < 2


def test_combined_rule_ignores_a_one_epoch_spike_of_the_same_size() -> None:
    dgrad = [10.0] * 12 + [50.0] + [10.0] * 9
    cfg = rule_config(**{**COMBINED, "shift_up": 3.0, "drift": 0.3})
    assert apply_rule(history(dgrad), cfg).trigger_epoch is None


def test_escalation_channel_fires_on_a_logit_blow_up() -> None:
    dgrad = [10.0] * 20
    logits = [1.0] * 10 + [60.0] + [1.0] * 9  # D's logits escalate within an epoch
    cfg = rule_config(**{**COMBINED, "shift_up": 0.0, "escalation": math.log(30)})
    timeline = apply_rule(history(dgrad, logits=logits), cfg)
    assert timeline.trigger_epoch == 11
    off = rule_config(**{**COMBINED, "shift_up": 0.0, "escalation": 0.0})
    assert apply_rule(history(dgrad, logits=logits), off).trigger_epoch is None


def test_a_frozen_generator_is_marked_failing_after_patience() -> None:
    """A saturated minimax generator: no spike anywhere, its parameters stop moving."""
    n = 20
    update = [0.3, 0.2, 0.1, 0.05] + [0.0] * (n - 4)
    cfg = rule_config(**{**COMBINED, "fail_patience": 5, "frozen_tol": 1e-4})
    timeline = apply_rule(history([10.0] * n, g_update=update), cfg)
    assert timeline.failing_epoch == 9  # frozen from epoch 5, the 5th in a row is 9
    assert timeline.trigger_epoch == 9
    assert timeline.cause == "failing"
    assert timeline.phases[8:] == [FAILING] * (n - 8)


def test_a_dominant_discriminator_is_failing_only_while_it_lasts() -> None:
    acc = [0.7] * 5 + [0.99] * 6 + [0.6] * 9
    cfg = rule_config(**{**COMBINED, "dominance": 0.95, "fail_patience": 3})
    timeline = apply_rule(history([10.0] * 20, d_acc=acc), cfg)
    assert timeline.failing_epoch == 8
    assert [e for e, p in zip(timeline.epochs, timeline.phases, strict=True) if p == FAILING] == [
        8,
        9,
        10,
        11,
    ]
    never = rule_config(**{**COMBINED, "dominance": 1.0, "fail_patience": 3})
    assert apply_rule(history([10.0] * 20, d_acc=acc), never).failing_epoch is None


def test_histories_without_the_new_monitors_still_replay() -> None:
    """Runs logged before these monitors existed: the failing channels see nothing."""
    timeline = apply_rule(history([10.0] * 15), rule_config("combined"))
    assert timeline.trigger_epoch is None and timeline.failing_epoch is None


def random_history(rng: random.Random, n: int) -> list[tuple[int, dict[str, float]]]:
    rows = []
    level = 1.0
    for epoch in range(1, n + 1):
        if rng.random() < 0.1:
            level *= rng.choice([0.2, 5.0])
        rows.append(
            (
                epoch,
                {
                    DGRAD_KEY: level * math.exp(rng.gauss(0, 0.3)),
                    STEEPNESS_P90_KEY: math.exp(rng.gauss(1, 0.3)),
                    LOGIT_MAX_KEY: math.exp(rng.gauss(0, 1.5)),
                    G_UPDATE_KEY: rng.choice([0.0, 0.01, 0.1]),
                    D_ACC_KEY: rng.uniform(0.5, 1.0),
                    "quality/hq_fraction": rng.uniform(0, 1),
                    "quality/modes_covered": float(rng.randint(0, 8)),
                    **{f"quality/mode_hq_count/{m}": 1.0 for m in range(8)},
                },
            )
        )
    return rows


@pytest.mark.parametrize("seed", range(20))
def test_online_decisions_equal_replay(seed: int) -> None:
    """Epoch by epoch, the online stopper decides what a replay of the history finds."""
    rng = random.Random(seed)
    rows = random_history(rng, 40)
    cfg = rule_config(
        rule="combined",
        shift_up=rng.uniform(1, 4),
        shift_down=rng.choice([0.0, 3.0]),
        escalation=rng.choice([0.0, 2.0]),
        quality_drop=rng.choice([0.0, 0.5]),
        dominance=rng.uniform(0.85, 1.0),
        fail_patience=rng.randint(2, 5),
        patience=rng.randint(1, 2),
        ema=rng.uniform(0.3, 1.0),
    )
    assert_online_equals_replay(rows, cfg)


def quality_history(quality: list[float]) -> list[tuple[int, dict[str, float]]]:
    rows = history([10.0] * len(quality))
    for (_, m), q in zip(rows, quality, strict=True):
        m |= {"quality/hq_fraction": q, "quality/modes_covered": 8.0}
        m |= {f"quality/mode_hq_count/{k}": 1.0 for k in range(8)}
    return rows


def test_quality_channel_fires_on_a_sustained_drop_not_on_a_one_epoch_crash() -> None:
    cfg = rule_config(**{**COMBINED, "shift_up": 0.0, "quality_drop": 0.5})
    crash = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert apply_rule(quality_history(crash), cfg).trigger_epoch is None
    collapse = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.1, 0.0, 0.1, 0.05, 0.0]
    # medians of 3: 0.9 until epoch 7, then 0.9, 0.1 (epoch 9): 1 - 0.1 / 0.9 >= 0.5
    assert apply_rule(quality_history(collapse), cfg).trigger_epoch == 9
    off = rule_config(**{**COMBINED, "shift_up": 0.0, "quality_drop": 0.0})
    assert apply_rule(quality_history(collapse), off).trigger_epoch is None


def quality_and_logits(quality: list[float], logits: list[float]) -> list:
    rows = quality_history(quality)
    for (_, m), value in zip(rows, logits, strict=True):
        m[LOGIT_MAX_KEY] = value
    return rows


def test_a_confirmed_escalation_fires_once_quality_follows_and_not_when_it_does_not() -> None:
    """confirm_within: an escalation of D's logits counts only once sustained quality
    has fallen by confirm_drop within that many evaluations; the trigger is the
    confirming evaluation, not the escalation (the cause, often epochs before)."""
    cfg = rule_config(
        **{**COMBINED, "shift_up": 0.0, "escalation": math.log(5), "confirm_within": 3},
        confirm_drop=0.3,
    )
    logits = [1.0] * 6 + [50.0] + [1.0] * 7  # escalation at epoch 7
    survived = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert apply_rule(quality_and_logits(survived, logits), cfg).trigger_epoch is None
    followed = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.0, 0.1, 0.0, 0.0]
    # medians of 3: 0.9 at epoch 9, 0.1 at 10 (1 - 0.1 / 0.9 >= 0.3): within 3 of epoch 7
    assert apply_rule(quality_and_logits(followed, logits), cfg).trigger_epoch == 10
    late = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.0, 0.0]
    # the fall (epoch 12) comes 5 evaluations after the escalation: not confirmed
    assert apply_rule(quality_and_logits(late, logits), cfg).trigger_epoch is None


def test_the_quality_channel_waits_its_own_patience() -> None:
    crash = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.0, 0.0, 0.9, 0.9, 0.9, 0.9]  # two epochs down
    quick = rule_config(**{**COMBINED, "shift_up": 0.0}, quality_drop=0.5, quality_window=1)
    assert apply_rule(quality_history(crash), quick).trigger_epoch == 7
    patient = rule_config(
        **{**COMBINED, "shift_up": 0.0}, quality_drop=0.5, quality_window=1, quality_patience=3
    )
    assert apply_rule(quality_history(crash), patient).trigger_epoch is None
