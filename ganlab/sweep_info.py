"""What a sweep's processes need to find each other, and nothing heavy.

Imported by every process that runs a sweep's job (joblib workers, the launcher, the
job's own process), so it stays free of torch and MLflow: a worker that only waits for
its job's process should not spend seconds importing them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SWEEP_FILE = "ganlab_sweep.json"
# How a job run outside Hydra's multirun (in its own process, or re-run) finds its sweep
JOB_ENV = "GANLAB_SWEEP_JOB"  # the job's number
SWEEP_DIR_ENV = "GANLAB_SWEEP_DIR"  # the sweep folder, holding ganlab_sweep.json
THREADS_ENV = "GANLAB_SWEEP_THREADS"  # torch threads the launcher leaves each job


@dataclass
class SweepInfo:
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


def job_args(overrides: Sequence[str], run_dir: Path) -> list[str]:
    """`ganlab-train`'s arguments that train one job in `run_dir`."""
    return [*overrides, f"hydra.run.dir={run_dir}"]


def child_command(overrides: Sequence[str], run_dir: Path) -> list[str]:
    """`ganlab-train` as a new interpreter training one job in `run_dir`."""
    return [sys.executable, "-m", "ganlab", *job_args(overrides, run_dir)]
