"""Intervals over scenarios: the benchmark's runs are not independent draws.

Runs of one scenario share everything but the seed, and they tend to go wrong together
(two spiral12 scenarios held 11 of 23 held-out alarms). An interval that treats each run
as an independent draw (Wilson's, the plain bootstrap over runs) is then too narrow. The
cluster bootstrap resamples whole scenarios with replacement and recomputes the pooled
statistic over the runs of the scenarios drawn; its percentile interval is what the
benchmark's tables print beside Wilson's, with the number of scenarios it rests on.
A fixed seed makes every report reproducible.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
SEED = 0


def _draws(clusters: int, resamples: int, seed: int) -> np.ndarray:
    """Indices of the scenarios drawn, one row per resample."""
    return np.random.default_rng(seed).integers(0, clusters, size=(resamples, clusters))


def rate_ci(
    clusters: Sequence[tuple[int, int]], resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float] | None:
    """95% percentile interval of a pooled rate (hits / runs) when whole scenarios
    (`clusters`: hits and runs per scenario) are resampled; None below two scenarios."""
    clusters = [c for c in clusters if c[1] > 0]
    if len(clusters) < 2:
        return None
    hits = np.array([h for h, _ in clusters], dtype=float)
    runs = np.array([n for _, n in clusters], dtype=float)
    draws = _draws(len(clusters), resamples, seed)
    rates = hits[draws].sum(axis=1) / runs[draws].sum(axis=1)
    low, high = np.quantile(rates, [0.025, 0.975])
    return float(low), float(high)


def median_ci(
    groups: Sequence[Sequence[float]], resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float] | None:
    """95% percentile interval of the median of the pooled values when whole scenarios
    (`groups`: the values of each) are resampled; None below two scenarios."""
    groups = [list(g) for g in groups if len(g)]
    if len(groups) < 2:
        return None
    medians = [
        statistics.median([v for i in row for v in groups[i]])
        for row in _draws(len(groups), resamples, seed)
    ]
    low, high = np.quantile(medians, [0.025, 0.975])
    return float(low), float(high)
