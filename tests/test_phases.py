"""Stopping rules and phase labels on synthetic histories with known answers."""

from __future__ import annotations

import math
import random

import pytest

from ganlab.rules import (
    COLLAPSING,
    DGRAD_KEY,
    DUALITY_GAP_KEY,
    FITTING,
    REFINING,
    STEEPNESS_MAX_KEY,
    STEEPNESS_P90_KEY,
    EarlyStopper,
    apply_rule,
    rule_config,
)
from ganlab.rules.verdict import verdict
from tests.support import assert_online_equals_replay

# No smoothing and short windows, so the expected epochs can be read off by hand; the
# running reference (minimum D gradient, maximum steepness since warm-up)
RAW = dict(
    rule="gradient",
    ema=1.0,
    warmup_epochs=2,
    patience=2,
    window=2,
    tau=1.0,
    beta=1.0,
    plateau_tol=0.05,
    reference="running",
)


def history(dgrad, s_p90, s_max, hq=None, covered=None, n_modes=8):
    """Epochs 1..n with the rule inputs and, optionally, mixture quality."""
    rows = []
    for i, (g, p90, smax) in enumerate(zip(dgrad, s_p90, s_max, strict=True)):
        metrics = {DGRAD_KEY: g, STEEPNESS_P90_KEY: p90, STEEPNESS_MAX_KEY: smax}
        if hq is not None:
            metrics["quality/hq_fraction"] = hq[i]
            metrics["quality/modes_covered"] = covered[i]
            for m in range(n_modes):
                metrics[f"quality/mode_hq_count/{m}"] = 0.0
        rows.append((i + 1, metrics))
    return rows


def test_discriminator_gradient_spike_triggers_and_stop_is_before_it() -> None:
    #        epoch: 1    2    3    4    5    6    7     8     9
    dgrad = [4.0, 2.0, 1.0, 1.0, 1.0, 1.0, 8.0, 9.0, 9.0]
    s_p90 = [1.0, 3.0, 6.0, 6.1, 6.1, 6.1, 6.1, 6.1, 6.1]
    s_max = [9.0] * 9
    timeline = apply_rule(history(dgrad, s_p90, s_max), rule_config(**RAW))
    # score = log(g / min g since warm-up): 0 until epoch 7, log 8 = 2.08 >= tau at 7 and 8
    assert timeline.trigger_epoch == 8
    # fitting while steepness grows, refining once it plateaus (growth < 5% over 2
    # evaluations, first seen at epoch 5), collapsing from the trigger on
    assert timeline.phases == [FITTING] * 4 + [REFINING] * 3 + [COLLAPSING] * 2


def test_settling_generator_is_not_a_collapse() -> None:
    """p90 steepness falls 10x while the maximum stays: MM-nsat settling into 8 modes."""
    n = 12
    dgrad = [3.0, 2.0] + [1.0] * (n - 2)
    s_p90 = [3.0, 8.0, 12.0, 12.0, 6.0, 3.0, 1.5, 1.0, 0.8, 0.7, 0.7, 0.7]
    s_max = [20.0] * n
    timeline = apply_rule(history(dgrad, s_p90, s_max), rule_config(**RAW))
    assert timeline.trigger_epoch is None
    assert COLLAPSING not in timeline.phases


def test_mode_drop_shows_as_falling_maximum_steepness() -> None:
    """The maximum falls (boundaries between modes vanish) with a flat D gradient."""
    n = 10
    dgrad = [1.0] * n
    s_p90 = [2.0, 5.0, 8.0, 8.0, 8.0, 8.0, 2.0, 1.0, 1.0, 1.0]
    s_max = [20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 6.0, 2.0, 2.0, 2.0]
    with_steepness = apply_rule(history(dgrad, s_p90, s_max), rule_config(**RAW))
    assert with_steepness.trigger_epoch == 8  # log(20/6) = 1.2 >= 1 at epochs 7 and 8
    gradient_only = apply_rule(history(dgrad, s_p90, s_max), rule_config(**{**RAW, "beta": 0}))
    assert gradient_only.trigger_epoch is None


def test_warm_up_evaluations_are_not_scored() -> None:
    dgrad = [1.0, 50.0, 50.0, 50.0]  # a spike inside the warm-up sets no reference
    timeline = apply_rule(history(dgrad, [1.0] * 4, [1.0] * 4), rule_config(**RAW))
    assert timeline.scores[:2] == [None, None]
    assert timeline.trigger_epoch is None


def test_smoothing_delays_a_single_spike() -> None:
    dgrad = [1.0] * 5 + [20.0] + [1.0] * 4
    flat = [1.0] * 10
    raw = apply_rule(history(dgrad, flat, flat), rule_config(**{**RAW, "patience": 1}))
    assert raw.trigger_epoch == 6
    smoothed_cfg = rule_config(**{**RAW, "patience": 2, "ema": 0.3})
    # EMA 0.3: 1 -> 6.7 -> 4.99 -> 3.79: log ratios 1.9, 1.6: two evaluations above tau
    assert apply_rule(history(dgrad, flat, flat), smoothed_cfg).trigger_epoch == 7


def test_duality_gap_rule_triggers_on_a_rise_after_its_minimum() -> None:
    gaps = [2.0, 1.0, 0.5, 0.4, 0.4, 0.5, 0.9, 1.0, 1.2]
    rows = [(e + 1, {DUALITY_GAP_KEY: g}) for e, g in enumerate(gaps)]
    shared = {k: v for k, v in RAW.items() if k not in ("rule", "tau", "beta", "reference")}
    cfg = rule_config("duality_gap", **shared, dg_tol=1.0)
    timeline = apply_rule(rows, cfg)
    # relative rise over the running minimum 0.4: 1.25 at epoch 7, 1.5 at epoch 8
    assert timeline.trigger_epoch == 8


def test_oracle_and_regret() -> None:
    n = 6
    hq = [0.1, 0.5, 0.9, 0.9, 0.6, 0.3]
    covered = [2, 6, 8, 7, 4, 2]
    rows = history([1.0, 1.0, 1.0, 9.0, 9.0, 9.0], [1.0] * n, [1.0] * n, hq, covered)
    cfg = rule_config(**{**RAW, "patience": 1, "warmup_epochs": 1})
    judged = verdict(rows, cfg)
    assert judged is not None
    assert judged.oracle_epoch == 3  # 0.9 * 8/8
    assert judged.trigger_epoch == 4
    assert judged.kept_epoch == 3  # the best up to the trigger: what a stop keeps
    assert judged.regret == pytest.approx(0.0)
    assert judged.epochs_saved == 2
    assert judged.final_quality == pytest.approx(0.3 * 2 / 8)


def test_no_trigger_means_training_to_the_end() -> None:
    n = 5
    rows = history([1.0] * n, [1.0] * n, [1.0] * n, [0.2, 0.9, 0.5, 0.4, 0.4], [8] * n)
    judged = verdict(rows, rule_config(**RAW))
    assert judged is not None
    assert judged.trigger_epoch is None
    assert judged.kept_epoch == 2  # never stopped: the run keeps its best weights
    assert judged.regret == pytest.approx(0.0)
    assert judged.final_quality == pytest.approx(0.4)  # what the final weights give
    assert judged.epochs_saved == 0


def test_a_stop_keeps_the_best_epoch_before_its_trigger_not_after() -> None:
    """The demo's collapsing run as a history: quality peaks at epoch 19, falls at 25,
    the rule fires at 26. A stop keeps epoch 19's weights (the best known at 26), even
    though a later epoch (40) would have been as good had the run gone on."""
    quality = [0.5] * 18 + [0.79, 0.6, 0.6, 0.6, 0.6, 0.6, 0.02, 0.02] + [0.3] * 13
    quality += [0.79] + [0.3] * 10
    n = len(quality)
    rows = history([1.0] * 25 + [50.0] * (n - 25), [1.0] * n, [1.0] * n, quality, [8] * n)
    judged = verdict(rows, rule_config(**{**RAW, "patience": 1, "warmup_epochs": 1}))
    assert judged is not None and judged.trigger_epoch == 26
    assert judged.kept_epoch == 19 and judged.quality_kept == pytest.approx(0.79)
    assert judged.oracle_epoch == 19  # the earliest of equal bests
    assert judged.regret == pytest.approx(0.0)


def random_history(rng: random.Random, n: int) -> list:
    rows = []
    for epoch in range(n + 1):  # includes epoch 0, which rules ignore
        metrics = {DUALITY_GAP_KEY: rng.uniform(0.1, 3)} if epoch % 3 == 0 else {}
        if rng.random() > 0.2:  # some epochs without gradient monitors
            metrics |= {
                DGRAD_KEY: math.exp(rng.gauss(0, 1)),
                STEEPNESS_P90_KEY: math.exp(rng.gauss(1, 0.5)),
                STEEPNESS_MAX_KEY: math.exp(rng.gauss(2, 0.5)),
            }
        rows.append((epoch, metrics))
    return rows


@pytest.mark.parametrize("rule", ["gradient", "duality_gap"])
@pytest.mark.parametrize("seed", range(20))
def test_online_decisions_equal_replay(rule: str, seed: int) -> None:
    """What the stopper decided epoch by epoch is what a replay of the history finds."""
    rng = random.Random(seed)
    rows = random_history(rng, 40)
    threshold = (
        {"tau": rng.uniform(0.3, 1.5)} if rule == "gradient" else {"dg_tol": rng.uniform(0.2, 2)}
    )
    cfg = rule_config(
        rule=rule,
        **threshold,
        patience=rng.randint(1, 3),
        ema=rng.uniform(0.2, 1.0),
    )
    online_phases = assert_online_equals_replay(rows, cfg)
    assert online_phases == sorted(online_phases)  # these rules' phases only move forward


def test_stopper_state_round_trip() -> None:
    rows = random_history(random.Random(1), 15)
    cfg = rule_config("gradient", tau=0.5, patience=1)
    first = EarlyStopper(cfg)
    for epoch, metrics in rows[:8]:
        first.update(epoch, metrics)
    second = EarlyStopper(cfg, first.state_dict()["history"])
    for epoch, metrics in rows[8:]:
        assert first.update(epoch, metrics) == second.update(epoch, metrics)
    assert first.timeline == second.timeline


# D gradient rising 10x through fitting (an untrained D), then a late spike.
FITTING_RISE = [0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 9.0, 9.0, 9.0, 9.0, 60.0, 70.0, 70.0, 9.0]
STEEP_P90 = [1.0, 2.0, 4.0, 6.0, 8.0, 9.0, 9.2, 9.3, 9.3, 9.3, 9.3, 9.3, 9.3, 9.3]
FLAT_MAX = [30.0] * 14


@pytest.mark.parametrize(("reference", "trigger"), [("running", 6), ("recent", 5)])
def test_scoring_during_fitting_mistakes_the_rise_for_a_collapse(reference, trigger) -> None:
    cfg = rule_config(**{**RAW, "score_from": "warmup", "reference": reference, "window": 3})
    timeline = apply_rule(history(FITTING_RISE, STEEP_P90, FLAT_MAX), cfg)
    # running: log(6/2), log(8/2) >= 1 at epochs 5-6; recent: log(4/1), log(6/2) at 4-5
    assert timeline.trigger_epoch == trigger


@pytest.mark.parametrize("reference", ["running", "recent"])
def test_scoring_from_the_plateau_waits_for_the_spike(reference: str) -> None:
    cfg = rule_config(**{**RAW, "score_from": "plateau", "reference": reference, "window": 3})
    timeline = apply_rule(history(FITTING_RISE, STEEP_P90, FLAT_MAX), cfg)
    # steepness growth falls under 5% over 3 evaluations at epoch 9; the spike is 11-12
    assert timeline.trigger_epoch == 12


def test_plateau_reference_scores_nothing_during_fitting() -> None:
    cfg = rule_config(**{**RAW, "score_from": "plateau", "window": 3})
    timeline = apply_rule(history(FITTING_RISE, STEEP_P90, FLAT_MAX), cfg)
    fitting = [s for s, p in zip(timeline.scores, timeline.phases, strict=True) if p == FITTING]
    assert fitting and all(s is None for s in fitting)


def test_default_rule_ignores_fitting_and_catches_a_one_epoch_spike() -> None:
    """What the loss zoos showed (the gradient rule's defaults): D's gradient at fakes rises
    ~100x while D learns (fitting: not a collapse; the old running-minimum default fired
    there in 3 of 4 runs), and a transient collapse is a one-evaluation jump of it."""
    fitting = [0.1 * 1.3**i for i in range(18)]  # 0.1 -> 8.7 over 18 epochs
    settled = [9.0, 10.0, 9.5, 10.5, 9.8, 10.2]
    spike = [200.0]  # 20x the recent median within one epoch (the EMA halves it: 10.5x)
    dgrad = fitting + settled + spike + [10.0, 9.0]
    n = len(dgrad)
    steep = [20.0] * n
    defaults = rule_config("gradient")  # the gradient rule's own defaults
    before_spike = apply_rule(history(dgrad[:24], steep[:24], steep[:24]), defaults)
    assert before_spike.trigger_epoch is None
    timeline = apply_rule(history(dgrad, steep, steep), defaults)
    assert timeline.trigger_epoch == 25  # the spike's epoch
    # a 7.5x jump stays below tau = 2 once smoothed: log((75 + 10) / 2 / 10) = 1.45
    mild = [*dgrad[:24], 75.0, 10.0, 9.0]
    assert apply_rule(history(mild, steep, steep), defaults).trigger_epoch is None
    # the previous default (running minimum since warm-up, EMA 0.3, tau 1, patience 3)
    # mistook fitting for a collapse: it fired at epoch 12, with D still learning
    old = rule_config(
        rule="gradient", reference="running", ema=0.3, beta=1.0, tau=1.0, patience=3, window=5
    )
    assert apply_rule(history(dgrad, steep, steep), old).trigger_epoch == 12


def test_a_run_that_never_fits_is_not_labelled_refining_however_flat_its_steepness() -> None:
    """The demo's never-fitting run (minimax, frozen G): steepness plateaus at once, so
    steepness alone called epochs 4-6 refining at quality 0. The default rule labels an
    evaluation refining only once sustained quality has reached refine_quality."""
    n = 12
    rows = history([1.0] * n, [3.0, 3.0] + [3.01] * (n - 2), [5.0] * n, [0.0] * n, [0] * n)
    default = apply_rule(rows, rule_config())
    assert REFINING not in default.phases
    steepness_only = apply_rule(rows, rule_config(refine_quality=0.0))
    assert REFINING in steepness_only.phases  # what it was before
    # and a run that fits becomes refining once its quality has reached the level
    fits = history([1.0] * n, [3.0] * n, [5.0] * n, [0.1, 0.2, 0.3, 0.6, 0.7] + [0.8] * 7, [8] * n)
    phases = apply_rule(fits, rule_config()).phases
    assert phases[:3] == [FITTING] * 3 and phases[-1] == REFINING
