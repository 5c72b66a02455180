"""Do the rule's phase labels agree with quality, and how fragile are the run labels?

- `phase_confusion`: each evaluation of a run as the rule labels it online (fitting,
  refining, collapsing, failing) against the phase quality alone defines: fitting until
  the run has fitted (its label's fit epoch; never-fitted runs throughout), collapsing
  from a collapsed run's onset on, refining in between.
- `label_counts`: the runs' labels at other thresholds (the drop ratio that makes an
  evaluation "low", the window of the sustained quality): a label that flips with them
  is a definition, not a fact, and the tables say how many do.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from ganlab.config import EarlyStopConfig
from ganlab.rules import PHASE_NAMES, apply_rule
from ganlab.study.labels import COLLAPSED, LABELS, NEVER_FITTED, LabelCriteria, label_run
from ganlab.study.scoring import LabelledRun

QUALITY_PHASES = ("fitting", "refining", "collapsing")


def quality_phase(run: LabelledRun, epoch: int) -> str:
    label = run.label
    if label.label == NEVER_FITTED or label.fit_epoch is None or epoch < label.fit_epoch:
        return "fitting"
    if label.label == COLLAPSED and label.onset_epoch is not None and epoch >= label.onset_epoch:
        return "collapsing"
    return "refining"


def phase_confusion(runs: Sequence[LabelledRun], cfg: EarlyStopConfig) -> Counter:
    """Counter[(phase by quality, phase the rule logged)] over every evaluation."""
    counts: Counter = Counter()
    for run in runs:
        timeline = apply_rule(run.history, cfg)
        for epoch, phase in zip(timeline.epochs, timeline.phases, strict=True):
            counts[(quality_phase(run, epoch), PHASE_NAMES[phase])] += 1
    return counts


def confusion_rows(counts: Counter) -> tuple[list[str], list[list[str]]]:
    logged = [PHASE_NAMES[p] for p in sorted(PHASE_NAMES)]
    header = ["by quality \\ logged", *logged, "agree"]
    rows = []
    for phase in QUALITY_PHASES:
        total = sum(counts[(phase, p)] for p in logged)
        agree = counts[(phase, phase)] + (counts[(phase, "failing")] if phase == "fitting" else 0)
        share = f"{agree / total:.0%}" if total else "-"
        rows.append([phase, *(str(counts[(phase, p)]) for p in logged), share])
    return header, rows


def label_counts(
    runs: Sequence[LabelledRun],
    drop_ratios: Sequence[float] = (0.4, 0.5, 0.6),
    windows: Sequence[int] = (3, 5, 7),
    criteria_of: dict[str, LabelCriteria] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Runs per label at each drop ratio and window (the family's other thresholds as
    they are), and how many runs change label from the one at 0.5 and 5."""
    header = ["drop ratio", "window", *LABELS, "runs labelled otherwise than at 0.5, 5"]
    baseline = {r.name: r.label.label for r in runs}
    rows = []
    for ratio in drop_ratios:
        for window in windows:
            labels = {}
            for run in runs:
                base = (criteria_of or {}).get(run.family, LabelCriteria())
                criteria = dataclasses.replace(base, drop_ratio=ratio, window=window)
                from ganlab.rules.run_quality import covered_modes

                epochs = list(run.epochs)
                labels[run.name] = label_run(
                    epochs, list(run.quality), criteria, covered_modes(run.history, epochs)
                ).label
            counted = Counter(labels.values())
            changed = sum(labels[n] != baseline[n] for n in labels)
            rows.append([f"{ratio}", str(window), *(str(counted[x]) for x in LABELS), str(changed)])
    return header, rows
