"""True pairs: a pair is scored only when its two arms are identical up to the first
rewind; rescued and harmed as documented (ganlab.study.rewind_pairs)."""

from __future__ import annotations

from ganlab.study.rewind_pairs import (
    DIVERGED,
    IDENTICAL,
    MISSING,
    OWN,
    PAIRED,
    first_difference,
    make_pairs,
    status_rows,
    summary_rows,
    targets,
)
from ganlab.study.scoring import labelled

FIT = [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9]


def run(name: str, quality: list[float], extra: dict[int, dict[str, float]] | None = None):
    rows = []
    for epoch, q in enumerate(quality, start=1):
        metrics = {
            "quality/hq_fraction": q,
            "quality/modes_covered": 8.0,
            "time/epoch_seconds": float(epoch) * (1.3 if name.endswith("'") else 1.0),
            **{f"quality/mode_hq_count/{k}": 1.0 for k in range(8)},
        }
        metrics.update((extra or {}).get(epoch, {}))
        rows.append((epoch, metrics))
    return labelled(name.rstrip("'"), "ring8", "x", 0, "holdout", rows)


COLLAPSING = FIT + [0.02] * 12  # collapses at epoch 9 for good
RESCUED = FIT + [0.9] * 12  # the rewind arm: back to the best at epoch 9, and held


def test_wall_clock_times_differ_and_do_not_count() -> None:
    assert first_difference(run("a", FIT), run("a'", FIT)) is None


def test_a_pair_that_differs_before_or_at_its_rewind_is_reported_not_scored() -> None:
    recorded = run("a", COLLAPSING)
    # the arms differ at epoch 4, before the rule fired at 9: not a pair
    early = run("a'", FIT[:3] + [0.7] + FIT[4:] + [0.9] * 12, {9: {"rewind/to_epoch": 4.0}})
    # ... or at the rewind's own epoch, whose metrics are logged before the rewind happens
    at_rewind = run("a'", RESCUED, {9: {"rewind/to_epoch": 4.0}})
    for rewound, epoch in ((early, 4), (at_rewind, 9)):
        (pair,) = make_pairs([recorded], {"a": rewound}, {"a"}, {"a": 0.9})
        assert first_difference(recorded, rewound) == epoch
        assert pair.status == DIVERGED and not pair.scored
        header, rows = status_rows([pair])
        assert rows == [[DIVERGED, "1", f"a (epoch {epoch}, rewind 9)"]]
        assert summary_rows([pair]) == []  # never scored


def test_identical_through_the_rewind_epoch_then_different() -> None:
    recorded = run("a", COLLAPSING)
    # the rewind arm logs the same metrics at epoch 9 (the trigger) plus the rewind keys,
    # and differs from epoch 10 on
    rewound = run("a'", COLLAPSING[:9] + [0.9] * 11, {9: {"rewind/to_epoch": 4.0}})
    (pair,) = make_pairs([recorded], {"a": rewound}, {"a"}, {"a": 0.9})
    assert first_difference(recorded, rewound) == 10
    assert pair.status == PAIRED and pair.scored and pair.rescued and not pair.rescued_recording
    header, rows = status_rows([pair])
    assert rows == [[PAIRED, "1", ""]]
    assert targets([pair])[0].startswith(">= 50% of collapsed runs rescued: 1/1 = 1.00 (met)")


def test_controls_own_pairs_and_missing_arms() -> None:
    healthy = run("h", FIT + [0.9] * 12)
    control = make_pairs([healthy], {"h": run("h'", FIT + [0.9] * 12)}, set(), {"h": 0.9})[0]
    own = make_pairs([healthy], {}, set(), {"h": 0.9})[0]
    missing = make_pairs([healthy], {}, {"h"}, {"h": 0.9})[0]
    assert (control.status, own.status, missing.status) == (IDENTICAL, OWN, MISSING)
    assert control.scored and own.scored and not missing.scored
    broken = make_pairs([healthy], {"h": run("h'", FIT + [0.5] * 12)}, set(), {"h": 0.9})[0]
    assert broken.status == DIVERGED  # a control that differs without a rewind


def test_a_rewind_that_costs_a_good_run_more_than_the_margin_is_harm() -> None:
    recovering = run("r", FIT + [0.1] + [0.9] * 11)
    worse = run("r'", FIT + [0.1] + [0.8] * 11, {9: {"rewind/to_epoch": 4.0}})
    (pair,) = make_pairs([recovering], {"r": worse}, {"r"}, {"r": 0.9})
    assert pair.label == "recovering" and pair.status == PAIRED
    assert pair.harmed  # 0.9 -> 0.8
    assert "1 of 1 are (r -0.100; not met)" in targets([pair])[1]
    rows = summary_rows([pair])
    assert rows[0][:3] == ["recovering", "all", "1 (1)"]


def test_the_study_trains_the_cheapest_family_first_by_recorded_wall_time() -> None:
    """An image family of few runs comes before a mixture family of many, when the times
    the trajectory set recorded say so; with no times, mixtures first, then by count."""
    from ganlab.launch.studies.rewind_study import cheapest_first
    from ganlab.study.catalogue import Job
    from ganlab.study.trajectories import Trajectory

    paired = [Job("ring", "a", seed, "collapse/ring") for seed in range(10)]
    paired += [Job("digits", "a", seed, "collapse/digits", prepare="mnist") for seed in (0, 1)]
    paired += [Job("grid", "a", seed, "collapse/grid") for seed in range(3)]

    def recorded(family: str, seconds: float) -> Trajectory:
        history = [(epoch, {"time/epoch_seconds": seconds}) for epoch in (1, 2)]
        return Trajectory(
            family, family, "a", 0, "tune", "FINISHED", "", "", "", "", "", None, history
        )

    times = [recorded("ring", 1.0), recorded("digits", 4.0), recorded("grid", 1.0)]
    assert cheapest_first(paired, times) == ["grid", "digits", "ring"]  # 6 < 16 < 20 s
    assert cheapest_first(paired, times[:2]) == ["digits", "ring", "grid"]  # grid: no time
    assert cheapest_first(paired, []) == ["grid", "ring", "digits"]
