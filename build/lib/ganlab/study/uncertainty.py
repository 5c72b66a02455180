"""Mean and 95% confidence interval over a group's runs (seeds), Student's t.

The half-width is t_{0.975, n-1} s / sqrt(n) with s the sample standard deviation: the
usual interval for the mean of n independent seeds, which assumes the per-seed values are
roughly normal; with 2-3 seeds it is wide on purpose. The t quantiles are tabulated (no
SciPy at run time) for df 1-30 and from Cornish-Fisher beyond; tests check them against
scipy.stats.t.ppf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# t_{0.975, df}, df = 1..30
_T975 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
    2.364624252, 2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
    2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
    2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
    2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
)  # fmt: skip
Z975 = 1.959963984540054


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("t quantile needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z975  # Cornish-Fisher expansion in 1/df: error < 1e-6 beyond df = 30
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_ci(values: Sequence[float]) -> tuple[float, float] | None:
    """(mean, 95% half-width); half-width nan for a single value; None for none."""
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t975(n - 1) * sd / math.sqrt(n)


def fmt_ci(values: Sequence[float], digits: int = 3) -> str:
    """'0.912 ± 0.041' (mean ± 95% half-width), '0.912' for one value, '-' for none."""
    result = mean_ci(values)
    if result is None:
        return "-"
    mean, half = result
    return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"
