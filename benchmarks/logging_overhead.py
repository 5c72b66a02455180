"""MLflow logging overhead of a run at default settings, measured within one run.

Runs `ganlab.training.run.train` on ring8 with every default monitor into a fresh embedded
SQLite store (its schema built beforehand, as a sweep does) and measures the CPU time
spent inside every call into `RunTracker`, the only module that talks to MLflow:
params, tags and config at the start, one batch of metrics per epoch, storing the
figures, the checkpoint upload and closing the run. Calls are timed with the calling
thread's CPU clock, whichever thread makes them (epoch outputs are written by a
background thread while the next epoch trains, ganlab.training.writer), and set against the
run's CPU time (all threads). On this 2-core machine torch's threads use both cores,
so that share bounds the slowdown from above; the part spent on the training thread
itself, which blocks training, is reported too.

Why a ratio within one run: this machine's speed drifts by tens of percent between
20-second runs (in CPU time too), so paired runs with and without MLflow could not
resolve a 2% difference; both terms of a ratio within a run drift together.

Rendering figures to PNG (scatter plots every 10 epochs, the phase figure at the end)
happens inside `log_figure` but is a monitor's cost, not MLflow's: it is subtracted and
reported on its own line. Target: MLflow <= 2%.

    python benchmarks/logging_overhead.py [--epochs 40] [--steps 250]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from unittest import mock

from hydra import compose, initialize_config_dir
from matplotlib.figure import Figure

import ganlab.training.loop
from ganlab.config import register
from ganlab.core.paths import CONF_DIR
from ganlab.tracking import RunTracker
from ganlab.training.run import train

TRACKER_CALLS = (
    "start",
    "log_params",
    "set_tags",
    "log_metrics",
    "log_figure",
    "log_artifact",
    "log_artifacts",
    "history",
    "end",
)


class CpuClock:
    """CPU seconds spent in wrapped functions, by name and by thread (main or other)."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, bool], float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.depth = threading.local()

    def wrap(self, name: str, function: Any) -> Any:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                main = threading.current_thread() is threading.main_thread()
                self.seconds[(name, main)] += time.thread_time() - started
                self.calls[name] += 1

        return timed

    def total(self, names: tuple[str, ...], main_only: bool = False) -> float:
        return sum(
            s for (n, main), s in self.seconds.items() if n in names and (main or not main_only)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=250)
    args = parser.parse_args()
    register()
    clock = CpuClock()
    patches = [
        mock.patch.object(RunTracker, name, clock.wrap(name, getattr(RunTracker, name)))
        for name in TRACKER_CALLS
        if name != "start"
    ]
    start = RunTracker.__dict__["start"].__func__  # a classmethod: creates the run
    patches += [
        mock.patch.object(RunTracker, "start", classmethod(clock.wrap("start", start))),
        mock.patch.object(Figure, "savefig", clock.wrap("savefig", Figure.savefig)),
        mock.patch.object(
            ganlab.training.loop,
            "rule_figure",
            clock.wrap("phase figure", ganlab.training.loop.rule_figure),
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        RunTracker.start(f"sqlite:///{root / 'mlflow.db'}", "ganlab", "create-store", {}).end()
        store_seconds = time.perf_counter() - started
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(
                "config",
                overrides=[
                    f"trainer.epochs={args.epochs}",
                    f"trainer.steps_per_epoch={args.steps}",
                    "trainer.progress=none",
                    f"paths.root={root}",
                    f"paths.output_dir={root / 'run'}",
                ],
            )
        for patch in patches:
            patch.start()
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        try:
            train(cfg)
        finally:
            for patch in patches:
                patch.stop()
        run_cpu, run_wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    # savefig runs inside log_figure and is rendering, not MLflow's work
    rendering = clock.total(("savefig",))
    mlflow_cpu = clock.total(TRACKER_CALLS) - rendering
    blocking = clock.total(TRACKER_CALLS, main_only=True) - clock.total(("savefig",), True)
    print(
        f"ring8, default monitors, {args.epochs} epochs x {args.steps} steps, embedded SQLite"
        f"\nstore created beforehand in {store_seconds:.1f} s (once per store)"
        f"\nrun: {run_wall:.1f} s wall, {run_cpu:.1f} s CPU (all threads)\n"
    )
    print(f"{'call':<16}{'calls':>7}{'CPU s':>9}{'on training thread':>20}")
    for name in (*TRACKER_CALLS, "savefig", "phase figure"):
        if clock.calls[name]:
            total = clock.seconds[(name, True)] + clock.seconds[(name, False)]
            print(
                f"{name:<16}{clock.calls[name]:>7}{total:>9.3f}{clock.seconds[(name, True)]:>20.3f}"
            )
    figures = rendering + clock.total(("phase figure",))
    print(
        f"\nMLflow: {mlflow_cpu / run_cpu:.2%} of the run's CPU time (target <= 2%); "
        f"{blocking / run_cpu:.2%} on the training thread"
        f"\nfigure rendering (a monitor cost, not MLflow's): {figures / run_cpu:.2%}"
    )


if __name__ == "__main__":
    main()
