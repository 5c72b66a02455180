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

from ganlab.sweep import JOB_ENV, SweepInfo


@dataclass
class LaunchInfo:
    overrides: list[str] | None = None  # this command line's overrides
    choices: dict[str, str] = field(default_factory=dict)  # group -> chosen option
    multirun: bool = False
    parent_run_id: str | None = None  # the sweep's parent run
    job: int | None = None  # the job's number in its sweep
    threads: int | None = None  # torch threads suggested by the launcher


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


def from_hydra(hydra_cfg: Any) -> LaunchInfo:
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    sweep = SweepInfo.load(hydra_cfg.sweep.dir) if multirun else None
    if multirun:
        job = int(hydra_cfg.job.num)
    else:
        job = int(os.environ[JOB_ENV]) if os.environ.get(JOB_ENV, "").isdigit() else None
    return LaunchInfo(
        overrides=list(hydra_cfg.overrides.task),
        choices={
            k: v
            for k, v in hydra_cfg.runtime.choices.items()
            if v is not None and not k.startswith("hydra")
        },
        multirun=multirun,
        parent_run_id=sweep.parent_run_id if sweep else None,
        job=job,
        threads=launcher_threads(hydra_cfg.launcher, os.cpu_count() or 1) if multirun else None,
    )
