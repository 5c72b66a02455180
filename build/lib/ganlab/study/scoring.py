"""Judging a stopping rule against labelled runs (docs/collapse.md, "The scores").

For each run, a rule's decision (replayed on the stored history, exactly what it would
have decided online) is an `Outcome`; a set of outcomes is summarised as a `Score`:

- hit rate: collapsed runs the rule flagged between the run's best epoch before the
  collapse and onset + `hit_slack` evaluations (3 by default); flags before the best
  epoch count as early, later ones or none as missed;
- lag: trigger epoch - onset epoch of the collapsed runs it flagged (negative = lead);
- false alarms: healthy (and, separately, recovering) runs flagged at all;
- failing: never-fitted runs the rule marked failing by half of the run;
- partial (scored apart): runs that lost a third of their modes for good, flagged
  between their best epoch and onset + `hit_slack`; alarms on ambiguous runs, apart too;
- kept quality: the quality of the weights a stop at the trigger keeps (every run keeps
  its best epoch so far, ganlab.training.best; the whole run's best when the rule never
  fires), beside the two baselines: never stopping with the final weights (what a plain
  loop gives) and never stopping while keeping the best (what most practitioners do);
- regret: quality at the run's best epoch - quality kept, in absolute quality, for the
  runs that fitted (healthy, recovering, collapsed, partial) and, apart, for the
  never-fitted ones (whose best is low anyway), with bootstrap 95% intervals of the median;
- saved: the share of each run's epochs a stopping rule would not have trained.

Rates come with Wilson 95% intervals and, since runs of one scenario are not independent,
with a cluster bootstrap over scenarios (ganlab.study.clusters) and the number of
scenarios behind them: with tens of runs per label a rate of 0.8 is 0.6-0.9 by Wilson,
and wider once scenarios are the unit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ganlab.config import EarlyStopConfig
from ganlab.rules import History
from ganlab.rules.run_quality import bounded_quality, covered_modes
from ganlab.rules.verdict import Verdict, verdict
from ganlab.study import clusters
from ganlab.study.labels import (
    AMBIGUOUS,
    COLLAPSED,
    HEALTHY,
    NEVER_FITTED,
    PARTIAL,
    RECOVERING,
    LabelCriteria,
    RunLabel,
    label_run,
)

HIT_SLACK = 3  # evaluations after the onset that still count as caught
FITTED = (HEALTHY, RECOVERING, COLLAPSED, PARTIAL)  # runs that fitted, whatever came after


class RunRecord(Protocol):
    """A finished run as the benchmark reads it: a trajectory of the shipped set
    (ganlab.study.trajectories) or a run of the tracking store (ganlab.tracking)."""

    @property
    def name(self) -> str: ...

    @property
    def tags(self) -> Mapping[str, str]: ...

    @property
    def history(self) -> History: ...


@dataclass(frozen=True)
class LabelledRun:
    """A stored run's history with its label and where it sits in the benchmark."""

    name: str
    family: str
    scenario: str
    seed: int
    split: str | None  # "tune", "holdout", "confirm", "natural" or None
    history: History
    label: RunLabel
    epochs: tuple[int, ...]  # evaluated epochs (quality logged)
    quality: tuple[float, ...]

    @property
    def scenario_key(self) -> str:
        """The run's scenario: the unit its intervals resample (family/scenario)."""
        return f"{self.family}/{self.scenario}"

    @property
    def fitted(self) -> bool:
        return self.label.label in FITTED


def labelled(
    name: str,
    family: str,
    scenario: str,
    seed: int,
    split: str | None,
    history: History,
    criteria: LabelCriteria | None = None,
) -> LabelledRun:
    epochs, quality = bounded_quality(history)
    criteria = criteria or LabelCriteria()
    return LabelledRun(
        name,
        family,
        scenario,
        seed,
        split,
        history,
        label_run(epochs, quality, criteria, covered_modes(history, epochs)),
        tuple(epochs),
        tuple(quality),
    )


@dataclass(frozen=True)
class Outcome:
    """A rule's verdict on one labelled run, scored against the run's label."""

    run: LabelledRun
    verdict: Verdict
    cfg: EarlyStopConfig

    @property
    def label(self) -> str:
        return self.run.label.label

    @property
    def trigger_epoch(self) -> int | None:
        return self.verdict.trigger_epoch

    @property
    def cause(self) -> str | None:
        return self.verdict.cause

    @property
    def failing_epoch(self) -> int | None:
        return self.verdict.failing_epoch

    @property
    def kept_epoch(self) -> int:
        """The epoch whose weights a stop at the trigger keeps (the best so far)."""
        return self.verdict.kept_epoch

    @property
    def quality_kept(self) -> float:
        return self.verdict.quality_kept

    @property
    def best_quality(self) -> float:
        """Never stopping, keeping the best checkpoint."""
        return self.verdict.quality_at_oracle

    @property
    def final_quality(self) -> float:
        """Never stopping, with the final weights (a plain training loop)."""
        return self.verdict.final_quality

    @property
    def regret(self) -> float:
        return self.verdict.regret

    @property
    def protocol_regret(self) -> float:
        """The protocol's tie-break as it was sealed (docs/collapse.md): best quality -
        quality at the evaluation of lowest rule score among the patience + window
        evaluations up to the trigger (where `stop` used to stop), or at the end when the
        rule never fires. Kept so that --choose gives the sealed choice back; every
        table reports `regret` (what a stop keeps) instead."""
        timeline, cfg = self.verdict.timeline, self.cfg
        if timeline.trigger_epoch is None:
            epoch = self.verdict.last_epoch
        else:
            i = timeline.epochs.index(timeline.trigger_epoch)
            window = range(max(0, i - cfg.patience - cfg.window + 1), i + 1)
            scored = [j for j in window if timeline.scores[j] is not None]
            # a failing trigger has no score: it stopped at the trigger itself
            j = min(scored, key=lambda j: (timeline.scores[j], -j)) if scored else i
            if timeline.cause == "failing":
                j = i
            epoch = timeline.epochs[j]
        return self.verdict.quality_at_oracle - self.verdict.quality_at(epoch)

    @property
    def alarm(self) -> bool:
        return self.trigger_epoch is not None

    @property
    def lag(self) -> int | None:
        onset = self.run.label.onset_epoch
        if onset is None or self.trigger_epoch is None:
            return None
        return self.trigger_epoch - onset

    @property
    def saved(self) -> float:
        """The share of the run's epochs that stopping at the trigger would not train."""
        last = self.run.epochs[-1] if self.run.epochs else 0
        return (last - self.trigger_epoch) / last if self.trigger_epoch and last else 0.0

    @property
    def hit(self) -> bool:
        """A collapsed (or partial) run flagged between its best epoch and onset +
        HIT_SLACK."""
        label = self.run.label
        if label.label not in (COLLAPSED, PARTIAL) or self.trigger_epoch is None:
            return False
        assert label.onset_epoch is not None and label.best_epoch is not None
        return label.best_epoch <= self.trigger_epoch <= self._slack_epoch(label.onset_epoch)

    @property
    def by_onset(self) -> bool:
        """A collapsed run flagged after its best epoch and no later than its onset: the
        evaluation whose quality first shows the drop (on images, quality comes every few
        epochs at a price; what matters is a flag no later than it)."""
        label = self.run.label
        if label.label != COLLAPSED or self.trigger_epoch is None:
            return False
        assert label.onset_epoch is not None and label.best_epoch is not None
        return label.best_epoch <= self.trigger_epoch <= label.onset_epoch

    @property
    def early(self) -> bool:
        best = self.run.label.best_epoch
        return self.trigger_epoch is not None and best is not None and self.trigger_epoch < best

    @property
    def failing_by_half(self) -> bool:
        last = self.run.epochs[-1] if self.run.epochs else 0
        return self.failing_epoch is not None and self.failing_epoch <= last / 2

    def _slack_epoch(self, onset: int) -> int:
        epochs = self.run.epochs
        index = epochs.index(onset) if onset in epochs else 0
        return epochs[min(index + HIT_SLACK, len(epochs) - 1)]


def decide(run: LabelledRun, cfg: EarlyStopConfig) -> Outcome:
    """Replay `cfg`'s rule on the run and judge it by the benchmark's quality."""
    judged = verdict(run.history, cfg, bounded_quality)
    assert judged is not None, f"{run.name} logged no quality"
    return Outcome(run, judged, cfg)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (0, 1 when n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    hits: int
    n: int
    clusters: tuple[tuple[int, int], ...] = ()  # (hits, runs) per scenario

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    def text(self) -> str:
        """'12/18 = 0.67 [0.44, 0.84] {0.38, 0.91; 7 sc.}': Wilson's interval in square
        brackets, the scenarios' cluster bootstrap and their count in braces."""
        if not self.n:
            return "- (0 runs)"
        low, high = wilson(self.hits, self.n)
        return (
            f"{self.hits}/{self.n} = {self.hits / self.n:.2f} [{low:.2f}, {high:.2f}] "
            + self.cluster_text()
        )

    def cluster_text(self) -> str:
        ci = clusters.rate_ci(self.clusters)
        count = len(self.clusters)
        if ci is None:
            return f"{{{count} sc.}}"
        return f"{{{ci[0]:.2f}, {ci[1]:.2f}; {count} sc.}}"


def rate(flags: Sequence[tuple[str, bool]]) -> Rate:
    """A rate from (scenario, flag) pairs, with its per-scenario counts."""
    by_scenario: dict[str, list[bool]] = {}
    for scenario, flag in flags:
        by_scenario.setdefault(scenario, []).append(flag)
    return Rate(
        sum(flag for _, flag in flags),
        len(flags),
        tuple((sum(v), len(v)) for _, v in sorted(by_scenario.items())),
    )


@dataclass(frozen=True)
class Score:
    """A rule's summary on a set of labelled runs."""

    hit: Rate  # collapsed runs caught in time
    by_onset: Rate  # collapsed runs flagged no later than the evaluation showing the drop
    early: Rate  # collapsed runs flagged before their best epoch
    false_alarm_healthy: Rate
    alarm_recovering: Rate
    false_alarm_good: Rate  # healthy and recovering runs together
    failing: Rate  # never-fitted runs marked failing by half the run
    partial: Rate  # partial runs flagged in time (scored apart)
    alarm_ambiguous: Rate
    lags: tuple[int, ...]
    failing_epochs: tuple[int, ...]
    regrets: tuple[float, ...]  # every fitted run: healthy, recovering, collapsed, partial
    regrets_never: tuple[float, ...]  # never-fitted runs
    protocol_regrets: tuple[float, ...]  # fitted runs, the protocol's tie-break
    saved: tuple[float, ...]  # every scored run: share of its epochs not trained

    @property
    def median_regret(self) -> float | None:
        return statistics.median(self.regrets) if self.regrets else None

    @property
    def median_protocol_regret(self) -> float | None:
        return statistics.median(self.protocol_regrets) if self.protocol_regrets else None

    @property
    def mean_regret(self) -> float | None:
        return statistics.fmean(self.regrets) if self.regrets else None

    @property
    def mean_saved(self) -> float | None:
        return statistics.fmean(self.saved) if self.saved else None

    def regret_text(self) -> str:
        """Median regret of fitted runs with its bootstrap 95% interval."""
        return median_ci_text(self.regrets)

    def lag_text(self) -> str:
        if not self.lags:
            return "-"
        q = _quartiles(self.lags)
        return f"{q[1]:+.1f} [{q[0]:+.1f}, {q[2]:+.1f}]"

    def failing_epoch_text(self) -> str:
        return f"{statistics.median(self.failing_epochs):.0f}" if self.failing_epochs else "-"


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def bootstrap_median_ci(
    values: Sequence[float], resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of the median (runs resampled with replacement;
    a fixed seed, so a report is reproducible). None for fewer than two values."""
    if len(values) < 2:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    medians = np.median(rng.choice(data, size=(resamples, len(data)), replace=True), axis=1)
    low, high = np.quantile(medians, [0.025, 0.975])
    return float(low), float(high)


def median_ci_text(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ci = bootstrap_median_ci(values)
    median = statistics.median(values)
    return f"{median:.3f}" if ci is None else f"{median:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def score(outcomes: Sequence[Outcome]) -> Score:
    def of(*labels: str) -> list[Outcome]:
        return [o for o in outcomes if o.label in labels]

    def flags(items: list[Outcome], flag: str) -> Rate:
        return rate([(o.run.scenario_key, bool(getattr(o, flag))) for o in items])

    collapsed, healthy = of(COLLAPSED), of(HEALTHY)
    recovering, never, partial = of(RECOVERING), of(NEVER_FITTED), of(PARTIAL)
    ambiguous = of(AMBIGUOUS)
    return Score(
        hit=flags(collapsed, "hit"),
        by_onset=flags(collapsed, "by_onset"),
        early=flags(collapsed, "early"),
        false_alarm_healthy=flags(healthy, "alarm"),
        alarm_recovering=flags(recovering, "alarm"),
        false_alarm_good=flags(healthy + recovering, "alarm"),
        failing=flags(never, "failing_by_half"),
        partial=flags(partial, "hit"),
        alarm_ambiguous=flags(ambiguous, "alarm"),
        lags=tuple(o.lag for o in collapsed if o.lag is not None),
        failing_epochs=tuple(o.failing_epoch for o in never if o.failing_epoch is not None),
        regrets=tuple(o.regret for o in of(HEALTHY, RECOVERING, COLLAPSED, PARTIAL)),
        regrets_never=tuple(o.regret for o in never),
        protocol_regrets=tuple(o.protocol_regret for o in of(*FITTED)),
        saved=tuple(o.saved for o in outcomes if o.label != AMBIGUOUS),
    )


# -- tuning -----------------------------------------------------------------------------
FALSE_ALARM_BUDGET = 0.10  # target: at most this share of healthy runs flagged


def objective(s: Score) -> tuple[bool, float, float]:
    """Sort key (lower is better): within the false-alarm budget first, then the mean of
    hit rate and failing rate (higher), then the median protocol regret (lower: the
    tie-break as sealed, `Outcome.protocol_regret`).

    The budget applies to healthy and recovering runs together: on ring8 most good runs
    have one-epoch quality crashes (recovering), few none (healthy), and an alarm at a
    crash the run recovers from stops it as wrongly as one on a healthy run."""
    fa = s.false_alarm_good.value or 0.0
    detection = statistics.fmean([(s.hit.value or 0.0), (s.failing.value or 0.0)])
    return fa > FALSE_ALARM_BUDGET + 1e-12, -detection, s.median_protocol_regret or 0.0


def tune(
    runs: Sequence[LabelledRun], candidates: Sequence[EarlyStopConfig]
) -> list[tuple[EarlyStopConfig, Score]]:
    """Every candidate scored on `runs`, best first by `objective`."""
    scored = [(cfg, score([decide(run, cfg) for run in runs])) for cfg in candidates]
    return sorted(scored, key=lambda item: objective(item[1]))
