"""Sweep throughput: the same ring8 sweep with joblib n_jobs=1 and n_jobs=2, in one run.

Each sweep is launched as a user would (`ganlab-train -m hydra/launcher=joblib ...`) into a
fresh SQLite store; wall time includes process start-up, store creation and the end-of-
sweep summary. With n_jobs=2 each job gets cores/2 torch threads.

For every sweep the script also reads back what each job spent training (the sum of its
epochs' `time/train_seconds`, i.e. the optimisation steps only, without monitors or
start-up) and prints the *training-only ideal*: that total divided by the jobs running at
once. The efficiency is ideal / wall time: 100% would mean a sweep costs nothing but its
training. The two orders alternate over `--repeats` pairs; medians are printed.

    python benchmarks/sweep_parallel.py [--jobs 8] [--epochs 5] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

LOSSES = ["ns", "mm_nsat", "hinge", "lsgan"]


@dataclass
class SweepTiming:
    wall: float  # seconds from the command to its exit
    training: float  # seconds all jobs spent in training steps, summed
    jobs: int
    first_start: float  # from the command to the first job's MLflow run start
    in_run: float  # mean per job: its run's start-to-end time minus its training steps
    last_end: float  # from the last job's run end to the command's exit

    def ideal(self, n_jobs: int) -> float:
        return self.training / n_jobs


def read_runs(root: str, started: float) -> dict[str, float]:
    """From the sweep's store: training seconds summed over jobs, and the timeline."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("ganlab")
    runs = client.search_runs([experiment.experiment_id], "tags.`ganlab.job` != ''")
    training = {
        run.info.run_id: sum(
            m.value for m in client.get_metric_history(run.info.run_id, "time/train_seconds")
        )
        for run in runs
    }
    starts = [run.info.start_time / 1000 - started for run in runs]
    ends = [run.info.end_time / 1000 - started for run in runs]
    in_run = [
        (run.info.end_time - run.info.start_time) / 1000 - training[run.info.run_id] for run in runs
    ]
    return {
        "training": sum(training.values()),
        "jobs": len(runs),
        "first_start": min(starts),
        "last_end": max(ends),
        "in_run": statistics.mean(in_run),
    }


def sweep(n_jobs: int, jobs: int, epochs: int) -> SweepTiming:
    seeds = ",".join(str(s) for s in range(max(1, jobs // len(LOSSES))))
    losses = ",".join(LOSSES[: min(jobs, len(LOSSES))])
    with tempfile.TemporaryDirectory() as root:
        epoch_started = time.time()
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ganlab",
                "-m",
                "hydra/launcher=joblib",
                f"hydra.launcher.n_jobs={n_jobs}",
                f"loss={losses}",
                f"seed={seeds}",
                f"trainer.epochs={epochs}",
                "monitor.duality_gap.every_n_epochs=0",
                "trainer.progress=none",
            ],
            cwd=root,
            env={**os.environ, "GANLAB_ROOT": root},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        found = read_runs(root, epoch_started)
    return SweepTiming(
        wall,
        found["training"],
        int(found["jobs"]),
        found["first_start"],
        found["in_run"],
        wall - found["last_end"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    timings: dict[int, list[SweepTiming]] = {1: [], 2: []}
    for repeat in range(args.repeats):
        for n_jobs in (1, 2) if repeat % 2 == 0 else (2, 1):
            t = sweep(n_jobs, args.jobs, args.epochs)
            timings[n_jobs].append(t)
            print(
                f"n_jobs={n_jobs}: wall {t.wall:6.1f} s, training {t.training:6.1f} s in "
                f"{t.jobs} runs, ideal {t.ideal(n_jobs):6.1f} s, "
                f"efficiency {t.ideal(n_jobs) / t.wall:5.1%}\n"
                f"    command -> first run starts {t.first_start:5.1f} s; per run, outside its "
                f"training steps {t.in_run:4.1f} s; last run ends -> exit {t.last_end:4.1f} s",
                flush=True,
            )
    print(
        f"\n{args.jobs} ring8 jobs x {args.epochs} epochs (250 steps, default monitors "
        f"without duality gap), {os.cpu_count()} cores, medians of {args.repeats}:"
    )
    wall = {n: statistics.median(t.wall for t in timings[n]) for n in timings}
    for n_jobs in (1, 2):
        ideal = statistics.median(t.ideal(n_jobs) for t in timings[n_jobs])
        print(
            f"  n_jobs={n_jobs}: {wall[n_jobs]:6.1f} s ({args.jobs / wall[n_jobs] * 3600:5.0f} "
            f"runs/hour); training-only ideal {ideal:5.1f} s: efficiency "
            f"{statistics.median(t.ideal(n_jobs) / t.wall for t in timings[n_jobs]):.1%}"
        )
    print(f"  speed-up n_jobs=2 / n_jobs=1: {wall[1] / wall[2]:.2f}x")


if __name__ == "__main__":
    main()
