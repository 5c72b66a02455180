"""Rewind instead of stop, measured on the catalogue paired by seed.

For each catalogue run of the held-out and confirmation splits that the rule fires on
(cause "collapse") while only recording, the same run is trained again with
`early_stop.action=rewind` (same config, same seed: identical until the first trigger).
A run the rule never fires on trains identically under rewind, so its pair is itself
(`ganlab-benchmark collapse --rewind` checks this on a few of them).

- **final quality**: the sustained quality at the end (median of the last 5 evaluations);
- **rescued** (collapsed and partial runs): final quality of the rewound run >= 0.8 x the
  best sustained quality the recorded run reached;
- **change** (healthy and recovering runs): final quality rewound - recorded, per run,
  with a bootstrap interval of the median; the runs it fired on are the false alarms, and
  this is what a false alarm costs when the action is a rewind;
- **kept by stopping**: the quality of the weights `action=stop` keeps (its stop epoch),
  for the same runs: what rewinding is to beat.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from ganlab.study.labels import COLLAPSED, HEALTHY, PARTIAL, RECOVERING
from ganlab.study.scoring import LabelledRun, bootstrap_median_ci, wilson
from ganlab.study.tables import fmt

RESCUE_SHARE = 0.8  # rescued: final sustained quality >= this x the recorded run's best
TAIL = 5  # evaluations in the final sustained quality


def final_quality(run: LabelledRun) -> float:
    return statistics.median(run.quality[-TAIL:]) if run.quality else 0.0


@dataclass(frozen=True)
class Pair:
    recorded: LabelledRun
    rewound: LabelledRun | None  # None: the rule never fired, the run is its own pair
    rewinds: int  # how many times the rewound run went back
    stopped: float | None = None  # quality of the weights `action=stop` would have kept

    @property
    def kept_by_stop(self) -> float:
        """What stopping instead of rewinding leaves: the stop epoch's quality where the
        rule fired, the recorded run's final quality where it did not."""
        return self.stopped if self.stopped is not None else self.final_recorded

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
    def change(self) -> float:
        return self.final_rewound - self.final_recorded

    @property
    def rescued(self) -> bool:
        return self.final_rewound >= RESCUE_SHARE * self.recorded.label.best


def summary_rows(pairs: Sequence[Pair]) -> tuple[list[str], list[list[str]]]:
    """Per label: runs, runs rewound, rescued (collapsed/partial) or the change of final
    quality (healthy/recovering), with intervals."""
    header = [
        "label",
        "runs",
        "rule fired (rewound)",
        "rescued: final >= 0.8 x best (95% CI)",
        "rescued when only recording",
        "final quality, recorded -> rewound (mean)",
        "quality kept by stopping (mean)",
        "change, mean [bootstrap 95% CI of the median]",
        "largest drop",
    ]
    rows = []
    for label in (COLLAPSED, PARTIAL, RECOVERING, HEALTHY):
        mine = [p for p in pairs if p.label == label]
        if not mine:
            continue
        fired = [p for p in mine if p.rewound is not None]
        changes = [p.change for p in mine]
        ci = bootstrap_median_ci(changes)
        rescued = sum(p.rescued for p in mine)
        low, high = wilson(rescued, len(mine))
        before = sum(p.final_recorded >= RESCUE_SHARE * p.recorded.label.best for p in mine)
        rows.append(
            [
                label,
                str(len(mine)),
                str(len(fired)),
                f"{rescued}/{len(mine)} = {rescued / len(mine):.2f} [{low:.2f}, {high:.2f}]",
                f"{before}/{len(mine)}",
                f"{statistics.fmean(p.final_recorded for p in mine):.3f} -> "
                f"{statistics.fmean(p.final_rewound for p in mine):.3f}",
                f"{statistics.fmean(p.kept_by_stop for p in mine):.3f}",
                f"{statistics.fmean(changes):+.3f}"
                + ("" if ci is None else f" [{ci[0]:+.3f}, {ci[1]:+.3f}]"),
                fmt(min(changes)),
            ]
        )
    return header, rows


def pairs_figure(pairs: Sequence[Pair]) -> Figure:
    """Final quality recorded (x) against rewound (y), one point per run, by label."""
    fig = Figure(figsize=(5.6, 5.2), dpi=100)
    ax = fig.subplots()
    colors = {
        COLLAPSED: "tab:red",
        PARTIAL: "tab:orange",
        RECOVERING: "tab:blue",
        HEALTHY: "tab:green",
    }
    for label, color in colors.items():
        mine = [p for p in pairs if p.label == label and p.rewound is not None]
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
    ax.set_xlabel("final quality, recording only")
    ax.set_ylabel("final quality, with rewind")
    ax.set_title("rewind vs record, same run and seed (above the line: rewind better)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right")
    else:  # say so, rather than leave an empty plot (and matplotlib's warning)
        ax.text(0.5, 0.5, "no run was rewound", ha="center", va="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
