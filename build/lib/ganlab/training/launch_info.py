"""How a run was launched, reduced to what a training run needs.

A run started from Python (tests, notebooks) gets an empty LaunchInfo; `ganlab-train`
fills it from Hydra's config (ganlab.launch.app): the command line's overrides (for
resuming), the chosen group options, whether this is a sweep job and under which parent
run, and how many CPU threads the job may use without oversubscribing the machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

SWEEP_FILE = "ganlab_sweep.json"
# How a job run outside Hydra's multirun (in its own process, or re-run) finds its sweep
JOB_ENV = "GANLAB_SWEEP_JOB"  # the job's number
SWEEP_DIR_ENV = "GANLAB_SWEEP_DIR"  # the sweep folder, holding ganlab_sweep.json
THREADS_ENV = "GANLAB_SWEEP_THREADS"  # torch threads the launcher leaves each job


@dataclass
class SweepInfo:
    """What a sweep's processes need to find each other: its parent run and store.

    Imported by every process of a sweep (joblib workers, the launcher, the job's own
    process), so this module stays free of torch, MLflow and Hydra."""

    parent_run_id: str
    tracking_uri: str
    experiment: str
    sweep_dir: str

    def save(self) -> None:
        path = Path(self.sweep_dir) / SWEEP_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, sweep_dir: str | Path) -> SweepInfo | None:
        path = Path(sweep_dir) / SWEEP_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else None


@dataclass
class LaunchInfo:
    overrides: list[str] | None = None  # this command line's overrides
    choices: dict[str, str] = field(default_factory=dict)  # group -> chosen option
    multirun: bool = False
    sweep: SweepInfo | None = None  # the sweep this job belongs to (its parent run, store)
    job: int | None = None  # the job's number in its sweep
    threads: int | None = None  # torch threads suggested by the launcher

    @property
    def parent_run_id(self) -> str | None:
        return self.sweep.parent_run_id if self.sweep else None


@dataclass
class ComposedJob:
    """A sweep job's config as its Hydra job composed it, for the process that trains it.

    The Hydra job (in the launcher or a joblib worker) has composed and validated the
    job's config already; the training process forked for it starts from this instead of
    running Hydra's composition again (~0.4 s a job; benchmarks/README.md)."""

    config_yaml: str  # the job's config, interpolations resolved (its folder included)
    logging_yaml: str  # Hydra's job_logging, resolved: the console and the job's log file
    overrides: list[str]  # the job's overrides, as its LaunchInfo records them
    choices: dict[str, str]  # the config groups chosen
