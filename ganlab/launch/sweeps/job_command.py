"""The command line that trains one sweep job, in this process or a new one.

Imported by every process that runs a sweep's job, so it stays free of torch and MLflow:
a worker that only waits for its job's process should not spend seconds importing them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def job_args(overrides: Sequence[str], run_dir: Path) -> list[str]:
    """`ganlab-train`'s arguments that train one job in `run_dir`."""
    return [*overrides, f"hydra.run.dir={run_dir}"]


def child_command(overrides: Sequence[str], run_dir: Path) -> list[str]:
    """`ganlab-train` as a new interpreter training one job in `run_dir`."""
    return [sys.executable, "-m", "ganlab", *job_args(overrides, run_dir)]
