"""`ganlab-train`'s Hydra entry point: one Hydra job, trained here or, in a sweep, in a
process of its own (ganlab.launch.sweeps.job). Training itself is `ganlab.training.run.train`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import configure_log
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ganlab.config import register
from ganlab.core.errors import GanlabError, Terminated, TrainingFailed
from ganlab.core.paths import CONF_DIR
from ganlab.launch.sweeps.job import run_job
from ganlab.launch.sweeps.warm import JobRequest
from ganlab.training.launch_info import (
    JOB_ENV,
    SWEEP_DIR_ENV,
    THREADS_ENV,
    ComposedJob,
    LaunchInfo,
    SweepInfo,
)

log = logging.getLogger("ganlab")
register()

__all__ = ["hydra_main", "launch_from_hydra"]


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


def _sweep_job_from_environment() -> tuple[SweepInfo | None, int | None, int | None]:
    """The sweep, job number and thread budget a sweep job's process was given in its
    environment (ganlab.launch.sweeps.job); all None for a run outside a sweep."""
    sweep_dir = os.environ.get(SWEEP_DIR_ENV)
    sweep = SweepInfo.load(sweep_dir) if sweep_dir else None
    return sweep, _env_int(JOB_ENV), _env_int(THREADS_ENV)


def launch_from_hydra(hydra_cfg: Any) -> LaunchInfo:
    """A sweep job is either Hydra's multirun job or the process it starts for the
    training (ganlab.launch.sweeps.job), which reads its sweep from the environment."""
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    if multirun:
        sweep = SweepInfo.load(hydra_cfg.sweep.dir)
        job: int | None = int(hydra_cfg.job.num)
        threads = launcher_threads(hydra_cfg.launcher, os.cpu_count() or 1)
    else:
        sweep, job, threads = _sweep_job_from_environment()
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


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    """One Hydra job. User errors print one line and exit 2; failed training exits 1.

    A sweep's job starts the training in a child process (ganlab.launch.sweeps.job) and returns
    normally whatever happens to it: a failed or killed job's run is marked FAILED, the
    other jobs go on, and the sweep's summary lists it (ganlab-train then exits 1).
    """
    hydra_cfg = HydraConfig.get()
    launch = launch_from_hydra(hydra_cfg)
    if launch.multirun:
        _sweep_job(cfg, hydra_cfg, launch)
        return None
    return train_or_exit(cfg, launch, hydra_cfg.runtime.output_dir)


def train_or_exit(cfg: DictConfig, launch: LaunchInfo, output_dir: str) -> float | None:
    """Train one run; how it ended becomes the command's exit code and last line."""
    from ganlab.training.run import train  # torch: not needed by a sweep's launchers

    try:
        result = train(cfg, launch)
    except GanlabError as exc:
        # the same one-line form as a config error caught before Hydra started
        print(f"ganlab-train: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except TrainingFailed:
        sys.exit(1)
    except (KeyboardInterrupt, Terminated) as exc:
        name, code = (
            ("SIGINT", 130) if isinstance(exc, KeyboardInterrupt) else (exc.signal_name, 143)
        )
        print(
            f"ganlab-train: stopped by {name}; the MLflow run is marked KILLED and the last "
            f"checkpoint kept: resume with trainer.resume={output_dir}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(code)
    return result.metrics.get("quality/hq_fraction")


def _sweep_job(cfg: DictConfig, hydra_cfg: Any, launch: LaunchInfo) -> None:
    """Train this job in a process of its own, so that a killed job fails only itself;
    the config composed here goes with it."""

    if launch.sweep is None:
        raise GanlabError(f"{hydra_cfg.sweep.dir} has no ganlab_sweep.json: not a ganlab sweep.")
    assert launch.job is not None and launch.overrides is not None
    output_dir = Path(hydra_cfg.runtime.output_dir)
    composed = ComposedJob(
        OmegaConf.to_yaml(cfg, resolve=True),
        OmegaConf.to_yaml(hydra_cfg.job_logging, resolve=True),
        list(launch.overrides),
        dict(launch.choices),
    )
    run_job(
        launch.sweep,
        launch.job,
        launch.overrides,
        output_dir,
        launch.threads,
        train_forked,
        composed,
    )


def train_forked(request: JobRequest) -> None:
    """A sweep job's forked child (ganlab.launch.sweeps.warm): become `ganlab-train <args>` in
    the request's environment and folder, then run.

    The launching `ganlab-train -m` checked these overrides already. With the config its
    Hydra job composed (`request.composed`), the child sets up the job's logging as
    Hydra would and trains that config; without it (a requeued job resuming from its
    checkpoint), it goes through Hydra, which still reports anything wrong."""
    from ganlab.training.run import FORKED_FROM_ENV  # preloaded by the warm process

    os.environ.clear()
    os.environ.update(request.env)
    os.environ[FORKED_FROM_ENV] = str(os.getppid())
    os.chdir(request.cwd)
    sys.argv = ["ganlab-train", *request.args]
    composed = request.composed
    if composed is None:
        hydra_main()
        return
    logging_cfg = OmegaConf.create(composed.logging_yaml)
    cfg = OmegaConf.create(composed.config_yaml)
    assert isinstance(logging_cfg, DictConfig) and isinstance(cfg, DictConfig)  # mappings
    configure_log(logging_cfg)
    sweep, job, threads = _sweep_job_from_environment()
    launch = LaunchInfo(
        overrides=list(composed.overrides),
        choices=dict(composed.choices),
        sweep=sweep,
        job=job,
        threads=threads,
    )
    train_or_exit(cfg, launch, str(cfg.paths.output_dir))
