"""The channel table's statistic and its questions (ganlab.study.channels)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ganlab.study.channels import CHANNELS, Evaluation, auroc, cell, evaluations, target_of
from ganlab.study.scoring import labelled


@pytest.mark.parametrize("seed", range(5))
def test_the_auroc_is_scikit_learns_ties_included(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=200).astype(float)  # many ties
    positive = rng.random(200) < 0.3
    assert auroc(scores, positive) == pytest.approx(roc_auc_score(positive, scores))


def run(name: str, quality: list[float], dgrad: list[float], scenario: str = "x"):
    rows = []
    for i, (q, g) in enumerate(zip(quality, dgrad, strict=True)):
        rows.append(
            (
                i + 1,
                {
                    "quality/hq_fraction": q,
                    "quality/modes_covered": 8.0,
                    "monitor/dgrad_fake_p90": g,
                    **{f"quality/mode_hq_count/{k}": 1.0 for k in range(8)},
                },
            )
        )
    return labelled(name, "ring8", scenario, 0, "tune", rows)


FIT = [0.1, 0.3, 0.6, 0.8, 0.85]


def test_evaluations_are_labelled_refining_collapsing_and_by_distance_to_onset() -> None:
    collapsed = run("c", FIT + [0.9] * 10 + [0.05] * 10, [5.0] * 25)
    evals = evaluations([collapsed])
    onset = collapsed.label.onset_epoch
    assert onset == 16 and collapsed.label.fit_epoch is not None
    assert sum(e.collapsing for e in evals) == 10  # epochs 16-25
    assert [e.to_onset for e in evals if not e.collapsing][-3:] == [3, 2, 1]
    before = [e for e in evals if not e.collapsing]
    assert [target_of(e, "onset within 3") for e in before[-4:]] == [False, True, True, True]
    assert all(target_of(e, "onset within 3") is None for e in evals if e.collapsing)


def test_a_channel_that_rises_at_every_collapse_separates_it_over_scenarios() -> None:
    runs = []
    for s in range(4):  # four scenarios: the interval can be computed
        runs.append(run(f"c{s}", FIT + [0.9] * 10 + [0.05] * 10, [5.0] * 15 + [60.0] * 10, f"s{s}"))
        runs.append(run(f"h{s}", FIT + [0.9] * 20, [5.0] * 25, f"s{s}"))
    evals = evaluations(runs)
    index = [k for k, _, _ in CHANNELS].index("monitor/dgrad_fake_p90")
    result = cell(evals, index, "collapsing", resamples=200)
    assert result.value == pytest.approx(1.0) and result.verdict == "higher"
    assert result.scenarios == 4 and result.positives == 40
    quiet = cell(evals, index, "onset within 3", resamples=200)
    assert quiet.value == pytest.approx(0.5)  # flat before the onset: no foresight
    assert isinstance(evals[0], Evaluation)
