"""Rewind against record, scored on true pairs (ganlab-benchmark collapse --rewind).

Both arms of a pair are trained by one study, at one commit, on one machine
(ganlab.launch.studies.rewind_study): the record arm with the rule only recording, the rewind arm
with `early_stop.action=rewind`. Until the rule first fires, the two are the same
computation, so their logged histories must be identical up to and including the epoch
of the first rewind (every metric but wall-clock times); the study checks it, and a pair
that differs earlier is reported and left out, never scored. A run the rule never fires
on in its record arm is its own pair (its rewind arm would be the same run); a few such
runs are trained twice anyway (controls), and must be identical through the end.

Per pair:
- **final**: the sustained quality at the end (median of the last `TAIL` evaluations);
- **kept**: the best quality of the arm's history (the weights it keeps,
  ganlab.training.best); and what a stop at the trigger would have kept (the best so far);
- **rescued** (collapsed and partial runs): final quality of the rewind arm >= 0.8 x the
  best sustained quality the run reached (its label's `best`);
- **harmed** (healthy and recovering runs): final quality lower under rewind by more than
  `HARM_MARGIN`.
Rates come with Wilson's interval and a cluster bootstrap over scenarios.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from ganlab.rules.stopper import REWIND_KEY
from ganlab.study import clusters
from ganlab.study.labels import COLLAPSED, HEALTHY, PARTIAL, RECOVERING
from ganlab.study.scoring import LabelledRun, rate
from ganlab.study.tables import fmt

RESCUE_SHARE = 0.8  # rescued: final sustained quality >= this x the run's best
HARM_MARGIN = 0.05  # harmed: final quality lower by more than this under rewind
TAIL = 5  # evaluations in the final sustained quality
IGNORED_PREFIXES = ("time/",)  # wall-clock: differs between any two runs

OWN, IDENTICAL, PAIRED, DIVERGED, MISSING = (
    "own pair (never fired)",
    "identical (control)",
    "identical up to the rewind",
    "diverged before the rewind",
    "rewind arm not trained",
)


def final_quality(run: LabelledRun) -> float:
    return statistics.median(run.quality[-TAIL:]) if run.quality else 0.0


def first_rewind(run: LabelledRun) -> int | None:
    return next((epoch for epoch, m in run.history if REWIND_KEY in m), None)


def first_difference(a: LabelledRun, b: LabelledRun) -> int | None:
    """The first epoch at which the two histories differ (a metric both logged with
    another value, an epoch one lacks), wall-clock times aside; None when identical."""
    left, right = dict(a.history), dict(b.history)
    for epoch in sorted(set(left) | set(right)):
        if epoch not in left or epoch not in right:
            return epoch
        for key in set(left[epoch]) & set(right[epoch]):
            if key.startswith(IGNORED_PREFIXES):
                continue
            x, y = left[epoch][key], right[epoch][key]
            if x != y and not (math.isnan(x) and math.isnan(y)):
                return epoch
    return None


@dataclass(frozen=True)
class Pair:
    recorded: LabelledRun  # the record arm (labelled: its label is the pair's)
    rewound: LabelledRun | None  # the rewind arm, when trained
    fired: bool  # the rule fires on the record arm (cause "collapse")
    kept_by_stop: float  # what a stop at the trigger keeps (the record arm's best so far)

    @property
    def rewind_epoch(self) -> int | None:
        return first_rewind(self.rewound) if self.rewound is not None else None

    @property
    def status(self) -> str:
        if self.rewound is None:
            return MISSING if self.fired else OWN
        differ = first_difference(self.recorded, self.rewound)
        rewind = self.rewind_epoch
        if rewind is None:
            return IDENTICAL if differ is None else DIVERGED
        return PAIRED if differ is None or differ > rewind else DIVERGED

    @property
    def scored(self) -> bool:
        return self.status in (OWN, IDENTICAL, PAIRED)

    @property
    def label(self) -> str:
        return self.recorded.label.label

    @property
    def final_recorded(self) -> float:
        return final_quality(self.recorded)

    @property
    def final_rewound(self) -> float:
        return final_quality(self.rewound) if self.rewound is not None else self.final_recorded

    @property
    def kept_recorded(self) -> float:
        return max(self.recorded.quality, default=0.0)

    @property
    def kept_rewound(self) -> float:
        run = self.rewound if self.rewound is not None else self.recorded
        return max(run.quality, default=0.0)

    @property
    def rescued(self) -> bool:
        return self.final_rewound >= RESCUE_SHARE * self.recorded.label.best

    @property
    def rescued_recording(self) -> bool:
        return self.final_recorded >= RESCUE_SHARE * self.recorded.label.best

    @property
    def harmed(self) -> bool:
        return self.final_rewound < self.final_recorded - HARM_MARGIN


def make_pairs(
    recorded: Sequence[LabelledRun],
    rewound: Mapping[str, LabelledRun],
    fired: set[str],
    kept_by_stop: Mapping[str, float],
) -> list[Pair]:
    return [
        Pair(run, rewound.get(run.name), run.name in fired, kept_by_stop[run.name])
        for run in sorted(recorded, key=lambda r: r.name)
    ]


def status_rows(pairs: Sequence[Pair]) -> tuple[list[str], list[list[str]]]:
    """How many pairs are in each state, with the runs that diverged before a rewind."""
    header = ["pairs", "runs", "runs (diverged ones by name)"]
    rows = []
    for status in (OWN, IDENTICAL, PAIRED, DIVERGED, MISSING):
        mine = [p for p in pairs if p.status == status]
        if not mine:
            continue
        names = ""
        if status == DIVERGED:
            names = ", ".join(
                f"{p.recorded.name} (epoch {first_difference(p.recorded, p.rewound)}, "  # type: ignore[arg-type]
                f"rewind {p.rewind_epoch})"
                for p in mine
            )
        rows.append([status, str(len(mine)), names])
    return header, rows


def _delta(pairs: Sequence[Pair], attr: str) -> str:
    """Mean change rewind - record of `attr`, with the scenarios' interval of the median."""
    groups: dict[str, list[float]] = {}
    for p in pairs:
        change = getattr(p, f"{attr}_rewound") - getattr(p, f"{attr}_recorded")
        groups.setdefault(p.recorded.scenario_key, []).append(change)
    values = [v for g in groups.values() for v in g]
    ci = clusters.median_ci(list(groups.values()))
    bounds = "" if ci is None else f" {{median {ci[0]:+.3f}, {ci[1]:+.3f}}}"
    return f"{statistics.fmean(values):+.3f}{bounds}"


SUMMARY_HEADER = [
    "label",
    "group",
    "pairs scored (scenarios)",
    "rule fired (rewound)",
    "rescued: final >= 0.8 x best",
    "rescued when only recording",
    "harmed: final lower by > 0.05",
    "final, recorded -> rewound (mean)",
    "change of final, mean {CI of the median over scenarios}",
    "change of kept (best) quality, mean",
    "kept by stopping at the trigger (mean)",
]


def summary_rows(pairs: Sequence[Pair], by_family: bool = True) -> list[list[str]]:
    """Per label, over all families and (with `by_family`) per family: the scored pairs."""
    rows = []
    scored = [p for p in pairs if p.scored]
    for label in (COLLAPSED, PARTIAL, RECOVERING, HEALTHY):
        mine = [p for p in scored if p.label == label]
        groups = [("all", mine)]
        if by_family:
            groups += [
                (family, [p for p in mine if p.recorded.family == family])
                for family in sorted({p.recorded.family for p in mine})
            ]
        for group, members in groups:
            if not members:
                continue
            keys = {p.recorded.scenario_key for p in members}
            rescued = rate([(p.recorded.scenario_key, p.rescued) for p in members])
            recording = sum(p.rescued_recording for p in members)
            harmed = rate([(p.recorded.scenario_key, p.harmed) for p in members])
            rows.append(
                [
                    label,
                    group,
                    f"{len(members)} ({len(keys)})",
                    str(sum(p.rewound is not None and p.fired for p in members)),
                    rescued.text() if label in (COLLAPSED, PARTIAL) else "-",
                    f"{recording}/{len(members)}" if label in (COLLAPSED, PARTIAL) else "-",
                    harmed.text() if label in (HEALTHY, RECOVERING) else "-",
                    f"{statistics.fmean(p.final_recorded for p in members):.3f} -> "
                    f"{statistics.fmean(p.final_rewound for p in members):.3f}",
                    _delta(members, "final"),
                    _delta(members, "kept").split(" ")[0],
                    fmt(statistics.fmean(p.kept_by_stop for p in members)),
                ]
            )
    return rows


def targets(pairs: Sequence[Pair]) -> list[str]:
    """The issue's two targets, met or not, with the numbers."""
    scored = [p for p in pairs if p.scored]
    collapsed = [p for p in scored if p.label == COLLAPSED]
    good = [p for p in scored if p.label in (HEALTHY, RECOVERING)]
    rescued = sum(p.rescued for p in collapsed)
    harmed = sorted((p.final_rewound - p.final_recorded, p.recorded.name) for p in good if p.harmed)
    share = rescued / len(collapsed) if collapsed else float("nan")
    return [
        f">= 50% of collapsed runs rescued: {rescued}/{len(collapsed)} = {share:.2f} "
        + ("(met)" if collapsed and share >= 0.5 else "(not met)"),
        "no healthy or recovering run's final quality lower by more than "
        f"{HARM_MARGIN}: {len(harmed)} of {len(good)} are"
        + (
            " (" + ", ".join(f"{name} {change:+.3f}" for change, name in harmed) + "; not met)"
            if harmed
            else " (met)"
        ),
    ]


def pairs_figure(pairs: Sequence[Pair]) -> Figure:
    """Final quality recorded (x) against rewound (y), one point per scored pair the rule
    fired on, by label."""
    fig = Figure(figsize=(5.6, 5.2), dpi=100)
    ax = fig.subplots()
    colors = {
        COLLAPSED: "tab:red",
        PARTIAL: "tab:orange",
        RECOVERING: "tab:blue",
        HEALTHY: "tab:green",
    }
    for label, color in colors.items():
        mine = [p for p in pairs if p.label == label and p.status == PAIRED]
        if mine:
            ax.scatter(
                [p.final_recorded for p in mine],
                [p.final_rewound for p in mine],
                s=14,
                color=color,
                label=f"{label} ({len(mine)} rewound)",
            )
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("final sustained quality, recording only")
    ax.set_ylabel("final sustained quality, with rewind")
    ax.set_title(
        "rewind vs record, true pairs (one machine, one commit; above the line: rewind better)",
        fontsize=8,
    )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right")
    else:  # say so, rather than leave an empty plot (and matplotlib's warning)
        ax.text(0.5, 0.5, "no run was rewound", ha="center", va="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
