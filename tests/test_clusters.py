"""Intervals over scenarios (ganlab.study.clusters) against SciPy's bootstrap."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from scipy.stats import bootstrap

from ganlab.study import clusters
from ganlab.study.scoring import rate, wilson

CLUSTERS = [(3, 5), (0, 4), (4, 4), (1, 6), (2, 3), (5, 5), (0, 2)]


def scipy_interval(statistic) -> tuple[float, float]:  # noqa: ANN001
    """SciPy's percentile bootstrap over scenario indices, many resamples."""
    result = bootstrap(
        (np.arange(len(CLUSTERS)),),
        statistic,
        vectorized=False,
        n_resamples=20000,
        method="percentile",
        random_state=1,
    )
    return result.confidence_interval.low, result.confidence_interval.high


def test_the_pooled_rate_interval_is_scipys_percentile_bootstrap() -> None:
    hits = np.array([h for h, _ in CLUSTERS])
    runs = np.array([n for _, n in CLUSTERS])
    low, high = scipy_interval(lambda idx: hits[idx].sum() / runs[idx].sum())
    ours = clusters.rate_ci(CLUSTERS)
    assert ours is not None
    assert ours[0] == pytest.approx(low, abs=0.03) and ours[1] == pytest.approx(high, abs=0.03)


def test_the_median_interval_is_scipys_percentile_bootstrap() -> None:
    rng = np.random.default_rng(3)
    groups = [
        list(rng.uniform(0.1 * i, 0.1 * i + 0.5, size=n)) for i, (_, n) in enumerate(CLUSTERS)
    ]
    low, high = scipy_interval(lambda idx: statistics.median(v for i in idx for v in groups[i]))
    ours = clusters.median_ci(groups)
    assert ours is not None
    assert ours[0] == pytest.approx(low, abs=0.03) and ours[1] == pytest.approx(high, abs=0.03)


def test_runs_that_go_wrong_together_widen_the_interval_beyond_wilsons() -> None:
    """23 of 46 alarms, 11 of them in two scenarios of 6: the scenarios' interval is
    wider than Wilson's, which takes the 46 runs as independent."""
    flags = [("a", True)] * 6 + [("b", True)] * 5 + [("b", False)]
    for k in range(8):
        flags += (
            [(f"c{k}", True)] * (1 + k % 2) + [(f"c{k}", False)] * (3 - k % 2) + [(f"c{k}", False)]
        )
    flags = flags[:46]
    r = rate(flags)
    low, high = wilson(r.hits, r.n)
    ci = clusters.rate_ci(r.clusters)
    assert ci is not None and ci[1] - ci[0] > high - low
    assert f"{len(r.clusters)} sc." in r.text()


def test_one_scenario_gives_no_interval() -> None:
    assert clusters.rate_ci([(3, 5)]) is None
    assert rate([("a", True), ("a", False)]).cluster_text() == "{1 sc.}"
