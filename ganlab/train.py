"""`ganlab-train`'s Hydra entry point, and `train(cfg)`, the library call it makes.

Both build a `ganlab.run.Run` and execute it; a sweep's job starts the same thing in a
process of its own (ganlab.sweep_job).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ganlab.config import register
from ganlab.errors import GanlabError, Terminated, TrainingFailed
from ganlab.launch import LaunchInfo
from ganlab.launch import from_hydra as launch_from_hydra
from ganlab.paths import CONF_DIR

if TYPE_CHECKING:
    from ganlab.run import RunResult

log = logging.getLogger("ganlab")
register()

__all__ = ["LaunchInfo", "hydra_main", "train"]


def train(cfg: DictConfig, launch: LaunchInfo | None = None) -> RunResult:
    """Run (or resume) one training run described by a composed config."""
    from ganlab.run import Run  # torch: not needed by a sweep's launcher processes

    return Run.create(cfg, launch).execute()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    """One Hydra job. User errors print one line and exit 2; failed training exits 1.

    A sweep's job starts the training in a child process (ganlab.sweep_job) and returns
    normally whatever happens to it: a failed or killed job's run is marked FAILED, the
    other jobs go on, and the sweep's summary lists it (ganlab-train then exits 1).
    """
    hydra_cfg = HydraConfig.get()
    launch = launch_from_hydra(hydra_cfg)
    if launch.multirun:
        return _sweep_job(hydra_cfg, launch)
    try:
        result = train(cfg, launch)
    except GanlabError as exc:
        # the same one-line form as a config error caught before Hydra started
        print(f"ganlab-train: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except TrainingFailed:
        sys.exit(1)
    except (KeyboardInterrupt, Terminated) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        name, code = ("SIGINT", 130) if interrupted else (exc.signal_name, 143)
        print(
            f"ganlab-train: stopped by {name}; the MLflow run is marked KILLED and the last "
            f"checkpoint kept: resume with trainer.resume={hydra_cfg.runtime.output_dir}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(code)
    return result.metrics.get("quality/hq_fraction")


def _sweep_job(hydra_cfg: DictConfig, launch: LaunchInfo) -> None:
    """Train this job in a process of its own, so that a killed job fails only itself."""
    from ganlab.sweep_job import run_job

    if launch.sweep is None:
        raise GanlabError(f"{hydra_cfg.sweep.dir} has no ganlab_sweep.json: not a ganlab sweep.")
    assert launch.job is not None and launch.overrides is not None
    output_dir = Path(hydra_cfg.runtime.output_dir)
    run_job(launch.sweep, launch.job, launch.overrides, output_dir, launch.threads)
