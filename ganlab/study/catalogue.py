"""The collapse benchmark's catalogue of runs, and running it.

The catalogue (collapse_catalogue.yaml beside this file) lists scenario families; each
scenario is a list of `ganlab-train` overrides run once per seed. `run_catalogue` trains
every run that is not yet in the tracking store, in worker processes that each import
torch and MLflow once and train one run after another through the library API
(`ganlab.training.run.train`): no process start per run. Each run is a child of the benchmark's
parent run and carries tags naming its family, scenario and seed, so a benchmark that
was interrupted continues where it stopped, and the stored runs alone are enough to
score rules again later.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from ganlab.core.errors import ConfigError
from ganlab.study.labels import LabelCriteria

log = logging.getLogger("ganlab")

CATALOGUE_FILE = Path(__file__).with_name("collapse_catalogue.yaml")
FAMILY_TAG, SCENARIO_TAG, SEED_TAG = "benchmark.family", "benchmark.scenario", "benchmark.seed"
ROLE_TAG, BENCHMARK_ROLE = "ganlab.role", "benchmark"


@dataclass(frozen=True)
class Job:
    """One run of the catalogue."""

    family: str
    scenario: str
    seed: int
    overrides: tuple[str, ...]
    prepare: str | None = None  # a data preparer of ganlab.study.digits.PREPARERS

    @property
    def name(self) -> str:
        return f"{self.family}-{self.scenario}-s{self.seed}"

    @property
    def command_overrides(self) -> tuple[str, ...]:
        """What `ganlab-train` needs to train this run again (plus where to log it)."""
        return (*self.overrides, f"seed={self.seed}")


@dataclass(frozen=True)
class Catalogue:
    shared: tuple[str, ...]
    families: dict[str, dict[str, Any]]
    tune_seeds: frozenset[int]
    holdout_seeds: frozenset[int]
    holdout_families: frozenset[str]
    # seeds scored only once, after the final choice (docs/collapse.md, the protocol)
    confirm_seeds: frozenset[int] = frozenset()

    def jobs(self) -> Iterator[Job]:
        for family, spec in self.families.items():
            for seed in spec["seeds"]:
                for scenario, overrides in spec["scenarios"].items():
                    overrides = (*self.shared, *_flat(overrides))
                    yield Job(family, scenario, int(seed), overrides, spec.get("prepare"))

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
        """'tune', 'holdout', 'confirm', or None (a seed in no list).

        Every seed of a held-out family is held out; in the other families the seed
        decides: tuning seeds, held-out seeds, and confirmation seeds (new seeds of the
        same scenarios, scored once after the final choice)."""
        if family in self.holdout_families:
            return "holdout"
        if seed in self.confirm_seeds:
            return "confirm"
        if seed in self.holdout_seeds:
            return "holdout"
        return "tune" if seed in self.tune_seeds else None


def _flat(items: list[Any]) -> list[str]:
    """Overrides with YAML aliases spliced in: [*base, x] is [[...], x] to YAML."""
    out: list[str] = []
    for item in items:
        out += _flat(item) if isinstance(item, list) else [str(item)]
    return out


def load_catalogue(path: Path = CATALOGUE_FILE, quick: bool = False) -> Catalogue:
    """The full catalogue, or its `quick` section."""
    spec = yaml.safe_load(path.read_text())
    shared = list(spec.get("shared", []))
    if quick:
        shared += list(spec["quick"].get("shared", []))
        spec = spec["quick"]
    for family, body in spec["families"].items():
        if not body.get("scenarios") or not body.get("seeds"):
            raise ConfigError(f"{path}: family '{family}' needs `seeds` and `scenarios`.")
    return Catalogue(
        shared=tuple(shared),
        families=spec["families"],
        tune_seeds=frozenset(spec["tune_seeds"]),
        holdout_seeds=frozenset(spec["holdout_seeds"]),
        holdout_families=frozenset(spec.get("holdout_families", [])),
        confirm_seeds=frozenset(spec.get("confirm_seeds", [])),
    )


# -- training, in worker processes ------------------------------------------------------
@dataclass(frozen=True)
class WorkerSetup:
    """What every worker needs to train into the benchmark's store."""

    tracking_uri: str
    experiment: str
    parent_run_id: str
    output_root: str
    data_root: str  # image data the catalogue prepares (mixtures need none)
    threads: int


def _init_worker(setup: WorkerSetup) -> None:
    import torch

    torch.set_num_threads(setup.threads)
    logging.getLogger("ganlab").setLevel(logging.WARNING)  # the parent prints progress
    global _setup
    _setup = setup


_setup: WorkerSetup | None = None


def _train_job(job: Job) -> tuple[Job, str, str, float]:
    """Train one job; return (job, run id or '', final status, seconds)."""
    from mlflow.tracking import MlflowClient

    from ganlab.core.errors import GanlabError, TrainingFailed
    from ganlab.launch.prepare import compose_config
    from ganlab.training.run import train

    assert _setup is not None
    started = time.perf_counter()
    cfg = compose_config(
        [
            *job.overrides,
            f"seed={job.seed}",
            f"paths.output_dir={Path(_setup.output_root) / job.name}",
            f"paths.data_root={_setup.data_root}",
            f"tracking.uri={_setup.tracking_uri}",
            f"tracking.experiment={_setup.experiment}",
            f"tracking.run_name={job.name}",
            f"tracking.parent_run_id={_setup.parent_run_id}",
            "trainer.progress=none",
        ]
    )
    client = MlflowClient(_setup.tracking_uri)
    try:
        result = train(cfg)
        run_id, status = result.run_id, "FINISHED"
    except TrainingFailed:
        run_id, status = _run_id_by_name(client, _setup.experiment, job.name), "FAILED"
    except GanlabError as exc:
        log.error("%s: %s", job.name, exc)
        return job, "", "ERROR", time.perf_counter() - started
    if run_id:
        for key, value in ((FAMILY_TAG, job.family), (SCENARIO_TAG, job.scenario)):
            client.set_tag(run_id, key, value)
        client.set_tag(run_id, SEED_TAG, str(job.seed))  # last: marks the run complete
    return job, run_id, status, time.perf_counter() - started


def _run_id_by_name(client: Any, experiment: str, name: str) -> str:
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs(
        [found.experiment_id], f"attributes.run_name = '{name}'", max_results=1
    )
    return runs[0].info.run_id if runs else ""


def prepare_data(jobs: list[Job], setup: WorkerSetup, report: Callable[[str], None]) -> None:
    """Once, before the fan-out: write each family's data, and let ganlab-prepare train
    the classifier and compute reference statistics (parallel jobs would all do it)."""
    from ganlab.config import validate
    from ganlab.launch.prepare import compose_config, prepare
    from ganlab.study.digits import PREPARERS

    done: set[str] = set()
    for job in jobs:
        if job.prepare is None or job.prepare in done:
            continue
        if job.prepare not in PREPARERS:
            raise ConfigError(
                f"unknown prepare step '{job.prepare}'; choose one of: {', '.join(PREPARERS)}."
            )
        folder = PREPARERS[job.prepare](setup.data_root)
        report(f"prepared {job.prepare}: {folder}")
        cfg = compose_config([*job.overrides, f"paths.data_root={setup.data_root}"])
        for line in prepare(validate(cfg)):
            report(f"prepared {line}")
        done.add(job.prepare)


def run_catalogue(
    jobs: list[Job],
    setup: WorkerSetup,
    n_workers: int,
    report: Callable[[str], None] = print,
) -> list[tuple[Job, str, str]]:
    """Train `jobs` in `n_workers` processes; report a line per finished run."""
    if not jobs:
        return []
    prepare_data(jobs, setup, report)
    done: list[tuple[Job, str, str]] = []
    started = time.perf_counter()
    context = get_context("spawn")  # fresh interpreters: no forked torch/MLflow state
    with context.Pool(n_workers, initializer=_init_worker, initargs=(setup,)) as pool:
        for job, run_id, status, seconds in pool.imap_unordered(_train_job, jobs):
            done.append((job, run_id, status))
            elapsed = time.perf_counter() - started
            remaining = elapsed / len(done) * (len(jobs) - len(done))
            report(
                f"[{len(done)}/{len(jobs)}] {job.name} {status} in {seconds:.0f} s "
                f"(elapsed {elapsed / 60:.1f} min, about {remaining / 60:.1f} min left)"
            )
    return done


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
