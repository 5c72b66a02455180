"""Sweep throughput: the same ring8 sweep with joblib n_jobs=1 and n_jobs=2, in one run.

Each sweep is launched as a user would (`ganlab-train -m hydra/launcher=joblib ...`) into a
fresh SQLite store; wall time includes process start-up, store creation and the end-of-
sweep summary. Prints the wall times, runs per hour and the speed-up ratio; with n_jobs=2
each job gets cores/2 torch threads. The two orders alternate over `--repeats` pairs.

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

LOSSES = ["ns", "mm_nsat", "hinge", "lsgan"]


def sweep(n_jobs: int, jobs: int, epochs: int) -> float:
    seeds = ",".join(str(s) for s in range(max(1, jobs // len(LOSSES))))
    losses = ",".join(LOSSES[: min(jobs, len(LOSSES))])
    with tempfile.TemporaryDirectory() as root:
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
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    for repeat in range(args.repeats):
        for n_jobs in (1, 2) if repeat % 2 == 0 else (2, 1):
            times[n_jobs].append(sweep(n_jobs, args.jobs, args.epochs))
            print(f"n_jobs={n_jobs}: {times[n_jobs][-1]:7.1f} s", flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(
        f"\n{args.jobs} ring8 jobs x {args.epochs} epochs (250 steps, default monitors "
        f"without duality gap), {os.cpu_count()} cores:"
    )
    print(f"  n_jobs=1: {one:7.1f} s  ({args.jobs / one * 3600:6.0f} runs/hour)")
    print(f"  n_jobs=2: {two:7.1f} s  ({args.jobs / two * 3600:6.0f} runs/hour)")
    print(f"  speed-up n_jobs=2 / n_jobs=1: {one / two:.2f}x")


if __name__ == "__main__":
    main()
