"""The collapse benchmark's catalogue: which runs exist, and which split each is in.

The catalogue (collapse_catalogue.yaml beside this file) lists scenario families; each
scenario is a config of `ganlab/conf/collapse/<family>/` run once per seed. Each run carries
tags naming its family and scenario (the config sets them) and its seed, so the runs
alone say where they belong; `ganlab-benchmark collapse` (ganlab.launch.studies.benchmark)
trains what is missing, as Hydra sweeps like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ganlab.core.errors import ConfigError
from ganlab.core.paths import CONF_DIR
from ganlab.study.labels import LabelCriteria

CATALOGUE_FILE = Path(__file__).with_name("collapse_catalogue.yaml")
# tags a catalogue run carries: its scenario config sets the first two; seed is every run's
FAMILY_TAG, SCENARIO_TAG, SEED_TAG = "benchmark.family", "benchmark.scenario", "seed"
ROLE_TAG, BENCHMARK_ROLE = "ganlab.role", "benchmark"


@dataclass(frozen=True)
class Job:
    """One run of the catalogue: the config `+<group>=<scenario>` at one seed."""

    family: str
    scenario: str
    seed: int
    group: str  # the config group of the family's scenarios: collapse/<family>
    prepare: str | None = None  # a data preparer of ganlab.study.digits.PREPARERS

    @property
    def name(self) -> str:
        return f"{self.family}-{self.scenario}-s{self.seed}"

    @property
    def command_overrides(self) -> tuple[str, ...]:
        """What `ganlab-train` needs to train this run again (plus where to log it)."""
        return (f"+{self.group}={self.scenario}", f"seed={self.seed}")


@dataclass(frozen=True)
class Catalogue:
    families: dict[str, dict[str, Any]]
    tune_seeds: frozenset[int]
    holdout_seeds: frozenset[int]
    holdout_families: frozenset[str]
    # seeds scored only once, after the final choice (docs/collapse.md, the protocol)
    confirm_seeds: frozenset[int] = frozenset()
    # families added after the choice, whose collapses nobody injected: a split of their own
    natural_families: frozenset[str] = frozenset()
    path: Path = CATALOGUE_FILE  # the file it was read from (its labels are pinned by hash)

    def jobs(self) -> Iterator[Job]:
        for family, spec in self.families.items():
            group = spec.get("group", f"collapse/{family}")
            for seed in spec["seeds"]:
                for scenario in spec["scenarios"]:
                    yield Job(family, scenario, int(seed), group, spec.get("prepare"))

    def job(self, family: str, scenario: str, seed: int) -> Job | None:
        """The catalogue's job of that name, or None (a run it no longer lists)."""
        return next(
            (j for j in self.jobs() if (j.family, j.scenario, j.seed) == (family, scenario, seed)),
            None,
        )

    def label_criteria(self, family: str) -> LabelCriteria:
        """The family's label thresholds (its `labels:` entry over the defaults)."""
        return LabelCriteria(**self.families.get(family, {}).get("labels", {}))

    def split_of(self, family: str, seed: int) -> str | None:
        """'tune', 'holdout', 'confirm', 'natural', or None (a seed in no list).

        Every seed of a held-out family is held out and every seed of a natural family is
        in the natural split; in the other families the seed decides: tuning seeds,
        held-out seeds, and confirmation seeds (new seeds of the same scenarios, scored
        once after the final choice)."""
        if family in self.natural_families:
            return "natural"
        if family in self.holdout_families:
            return "holdout"
        if seed in self.confirm_seeds:
            return "confirm"
        if seed in self.holdout_seeds:
            return "holdout"
        return "tune" if seed in self.tune_seeds else None


def load_catalogue(path: Path = CATALOGUE_FILE, quick: bool = False) -> Catalogue:
    """The full catalogue, or its `quick` section; every scenario must have its config."""
    spec = yaml.safe_load(path.read_text())
    if quick:
        spec = spec["quick"]
    for family, body in spec["families"].items():
        if not body.get("scenarios") or not body.get("seeds"):
            raise ConfigError(f"{path}: family '{family}' needs `seeds` and `scenarios`.")
        group = body.get("group", f"collapse/{family}")
        for scenario in body["scenarios"]:
            if not (CONF_DIR / group / f"{scenario}.yaml").is_file():
                raise ConfigError(
                    f"{path}: scenario '{scenario}' of family '{family}' has no config "
                    f"{CONF_DIR / group / scenario}.yaml; add it (its overrides) there."
                )
    return Catalogue(
        families=spec["families"],
        tune_seeds=frozenset(spec["tune_seeds"]),
        holdout_seeds=frozenset(spec["holdout_seeds"]),
        holdout_families=frozenset(spec.get("holdout_families", [])),
        confirm_seeds=frozenset(spec.get("confirm_seeds", [])),
        natural_families=frozenset(spec.get("natural_families", [])),
        path=path,
    )
