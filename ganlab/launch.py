"""What Hydra knows about the job being run, reduced to what a training run needs.

A run started from Python (tests, notebooks) gets an empty LaunchInfo; `ganlab-train`
fills it from Hydra's config: the command line's overrides (for resuming), the chosen
group options, whether this is a sweep job and under which parent run, and how many CPU
threads the job may use without oversubscribing the machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hydra.types import RunMode

from ganlab.sweep_info import JOB_ENV, SWEEP_DIR_ENV, THREADS_ENV, SweepInfo


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


def launcher_threads(launcher: Any, cpu_count: int) -> int | None:
    """Threads per job: cores / parallel jobs for joblib, cpus_per_task for submitit."""
    target = str(launcher.get("_target_", ""))
    if "JoblibLauncher" in target:
        n_jobs = int(launcher.get("n_jobs") or -1)
        parallel = n_jobs if n_jobs > 0 else max(1, cpu_count + 1 + n_jobs)  # joblib's -k
        return max(1, cpu_count // min(parallel, cpu_count))
    if "submitit" in target:
        return launcher.get("cpus_per_task") or None
    return None


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


def from_hydra(hydra_cfg: Any) -> LaunchInfo:
    """A sweep job is either Hydra's multirun job or the process it starts for the
    training (ganlab.sweep_job), which reads its sweep from the environment."""
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    if multirun:
        sweep = SweepInfo.load(hydra_cfg.sweep.dir)
        job: int | None = int(hydra_cfg.job.num)
        threads = launcher_threads(hydra_cfg.launcher, os.cpu_count() or 1)
    else:
        sweep_dir = os.environ.get(SWEEP_DIR_ENV)
        sweep = SweepInfo.load(sweep_dir) if sweep_dir else None
        job, threads = _env_int(JOB_ENV), _env_int(THREADS_ENV)
    return LaunchInfo(
        overrides=list(hydra_cfg.overrides.task),
        choices={
            k: v
            for k, v in hydra_cfg.runtime.choices.items()
            if v is not None and not k.startswith("hydra")
        },
        multirun=multirun,
        sweep=sweep,
        job=job,
        threads=threads,
    )
