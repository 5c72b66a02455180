"""ganlab: study how GAN training goes wrong.

Hydra composes a model, a loss formulation, a dataset and monitors into a run; every
run logs per-epoch statistics to MLflow so training phases can be compared across runs.

From Python, compose a config as `ganlab-train` would and run it:

    from hydra import compose, initialize_config_dir
    import ganlab
    from ganlab.core.paths import CONF_DIR

    ganlab.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["loss=mm_nsat", "paths.output_dir=out"])
    result = ganlab.run(cfg)  # a RunResult: run id, epochs, last metrics, checkpoint

From your own training loop, `ganlab.Watch` measures your G and D with ganlab's monitors
and stopping rule and logs them as a ganlab run (ganlab.training.watch; examples/own_loop.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ganlab.core.version import __version__ as __version__

# MLflow 3 sends usage telemetry from every client unless told not to. ganlab's processes
# do not, unless the user opts in: MLFLOW_DISABLE_TELEMETRY=false (docs/guide.md).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

if TYPE_CHECKING:
    from ganlab.training.run import RunResult
    from ganlab.training.watch import EpochReport as EpochReport
    from ganlab.training.watch import Watch as Watch


def __getattr__(name: str) -> Any:
    """`ganlab.Watch` and `ganlab.EpochReport`, imported on first use (they need torch)."""
    if name in ("Watch", "EpochReport"):
        from ganlab.training import watch

        return getattr(watch, name)
    raise AttributeError(f"module 'ganlab' has no attribute {name!r}")


def run(cfg: Any, launch: Any = None) -> RunResult:
    """Train (or resume, with trainer.resume) the run a composed config describes."""
    from ganlab.training.run import Run

    return Run.create(cfg, launch).execute()


def register() -> None:
    """Make ganlab's config schema known to Hydra (before composing)."""
    from ganlab.config import register as register_schema

    register_schema()
