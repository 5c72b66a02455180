"""`ganlab-benchmark collapse --rewind`: rewind against record, trained as true pairs.

A recorded catalogue run and a run trained again later are not a pair: on another CPU, or
after the code moved, the same seed gives another run within a few epochs, and comparing
the two measures regression to the mean, not the rewind. So this study trains both arms
itself, at one commit, on one machine, in one call:

1. the **record arm**: every held-out and confirmation run of the catalogue, with the
   sealed rule only recording (its own trajectory set, `pairs/record.parquet`);
2. the **rewind arm**: the same runs with `early_stop.action=rewind` under the sealed
   rule, for every run whose record arm the rule fires on (cause "collapse"), and two
   runs per family it does not fire on (controls: they must train identically through
   the end); `pairs/rewind.parquet`.

Family by family (the cheapest first, by the times the trajectory set recorded), record
arm first, so an interrupted study keeps whole families and trains only what it lacks
when called again. Which runs the rule fires on is replayed from the record arm's
history; no score is computed or shown while training (scoring the pairs is a look:
ganlab.study.rewind_pairs, through the look log).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ganlab.config import EarlyStopConfig
from ganlab.launch.studies.catalogue_runs import train_missing
from ganlab.rules import apply_rule, rule_config
from ganlab.study.catalogue import Catalogue, Job
from ganlab.study.protocol import settings_of
from ganlab.study.trajectories import DEFAULT_PATH, Trajectory, read_or_empty
from ganlab.tracking import RunTracker

PAIRED_SPLITS = ("holdout", "confirm")
CONTROLS_PER_FAMILY = 2
EPOCH_SECONDS = "time/epoch_seconds"  # an epoch's wall time, evaluation included


def pair_paths(out: Path, shipped: bool) -> tuple[Path, Path]:
    """Where the record arm and the rewind arm are kept."""
    folder = DEFAULT_PATH.parent / "pairs" if shipped else out / "pairs"
    return folder / "record.parquet", folder / "rewind.parquet"


def rule_overrides(rule: EarlyStopConfig, action: str) -> list[str]:
    """The overrides that train a catalogue run under `rule` with `action` (the rule's
    settings that differ from its defaults, every one named). Both arms get the same rule,
    so its logged score and phase agree until the first rewind; only the action differs."""
    default = rule_config(rule.rule)
    return [f"early_stop={rule.rule}", f"early_stop.action={action}"] + [
        f"early_stop.{key}={value}"
        for key, value in settings_of(rule).items()
        if key not in ("action", "rewind", "model") and value != getattr(default, key)
    ]


def fired(runs: Sequence[Trajectory], rule: EarlyStopConfig) -> set[str]:
    """The runs whose history `rule` fires on for a collapse (replayed, as online)."""
    return {t.run for t in runs if apply_rule(t.history, rule).cause == "collapse"}


def controls(runs: Sequence[Trajectory], fired_names: set[str]) -> set[str]:
    """Runs the rule does not fire on, the first few by name: under rewind they must train
    exactly as recorded, which checks that the two arms differ only by the rewind."""
    quiet = sorted(t.run for t in runs if t.run not in fired_names)
    return set(quiet[:CONTROLS_PER_FAMILY])


def cheapest_first(paired: Sequence[Job], recorded: Sequence[Trajectory]) -> list[str]:
    """The paired families, the cheapest to train first, so that whole families arrive
    early in a study that may be stopped. A family's cost is its number of paired runs
    times the mean wall time of its runs in the trajectory set (an image run costs
    several mixture runs: 12 digit runs cost less than 135 ring runs); families the set
    has no time for come last, the image families after the mixtures, then by count."""
    seconds: dict[str, list[float]] = {}
    for t in recorded:
        total = sum(metrics.get(EPOCH_SECONDS, 0.0) for _, metrics in t.history)
        if total > 0:
            seconds.setdefault(t.family, []).append(total)

    def cost(family: str) -> tuple[bool, float, bool, int]:
        count = sum(job.family == family for job in paired)
        image = any(job.prepare for job in paired if job.family == family)
        known = seconds.get(family)
        estimate = count * sum(known) / len(known) if known else 0.0
        return (not known, estimate, image, count)

    return sorted({job.family for job in paired}, key=cost)


def train_pairs(
    catalogue: Catalogue,
    rule: EarlyStopConfig,
    args: argparse.Namespace,
    experiment: str,
    out: Path,
    shipped: bool,
    trajectories: Path,
) -> RunTracker | None:
    """Train what the two arms lack, family by family, the cheapest first (by the times
    recorded in `trajectories`); the study's parent run (None when nothing was left to
    train)."""
    record_path, rewind_path = pair_paths(out, shipped)
    paired = [
        job for job in catalogue.jobs() if catalogue.split_of(job.family, job.seed) in PAIRED_SPLITS
    ]
    families = cheapest_first(paired, read_or_empty(trajectories))
    parent = None
    for family in families:
        wanted = {job.name for job in paired if job.family == family}
        print(f"ganlab-benchmark: pairs, {family}: the record arm ({len(wanted)} runs)", flush=True)
        parent = train_missing(
            catalogue,
            record_path,
            args,
            experiment + "_pair_record",
            out,
            wanted=wanted,
            extra=rule_overrides(rule, "record"),
        )
        recorded = [t for t in read_or_empty(record_path) if t.run in wanted]
        fires = fired(recorded, rule)
        checks = controls(recorded, fires)
        print(
            f"ganlab-benchmark: pairs, {family}: the rewind arm ({len(fires)} runs the rule "
            f"fires on, {len(checks)} controls)",
            flush=True,
        )
        parent = train_missing(
            catalogue,
            rewind_path,
            args,
            experiment + "_pair_rewind",
            out,
            wanted=fires | checks,
            extra=rule_overrides(rule, "rewind"),
        )
    return parent
