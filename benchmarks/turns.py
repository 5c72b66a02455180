"""Two trainers timed in turns of a few steps on one thread, for paired ratios that this
VM's drift does not reach, and the default config they are built from (imported by the
benchmark scripts beside it).

Each trainer runs its epoch as a greenlet and hands over to the other at the trainer's
progress callback (every `ganlab.training.steps.PROGRESS_EVERY` steps), so the two share
every second of the machine's speed. Threads would not do: each Python thread that calls
into torch gets its own OpenMP pool, whose idle workers spin beside the other's (a 0.16
spread of the per-epoch log ratio, against 0.02-0.05 this way); whole epochs in turn left
0.11.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

import greenlet

from ganlab.config import GanlabConfig, validate
from ganlab.config.compose import compose_config
from ganlab.training.steps import Trainer


def epochs_parser(doc: str, epochs: int) -> argparse.ArgumentParser:
    """A paired benchmark's command line: its docstring's first line, `--epochs`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    return parser


def parse_epochs(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed command line; fewer than 3 epochs is refused in one sentence."""
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs must be at least 3: a warm-up and two measured epochs")
    return args


def default_config(*overrides: str) -> GanlabConfig:
    """The default run's config (ring8), with `overrides`; its output directory is a
    temporary one, gone on return: the benchmarks train in memory and write nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        return validate(compose_config([f"paths.output_dir={Path(tmp)}", *overrides]))


def epoch_in_turns(
    trainers: dict[Hashable, Trainer], first: Hashable
) -> tuple[dict[Hashable, float], dict[Hashable, dict[str, float]]]:
    """One epoch of each of two trainers, in turns, `first` starting; each one's own
    seconds (the hand-overs are charged to neither) and its epoch metrics."""
    if len(trainers) != 2:
        raise ValueError("epoch_in_turns pairs exactly two trainers")
    seconds = dict.fromkeys(trainers, 0.0)
    metrics: dict[Hashable, dict[str, float]] = {}
    lets: dict[Hashable, greenlet.greenlet] = {}
    other = dict(zip(trainers, reversed(list(trainers)), strict=True))

    def run(me: Hashable) -> Callable[[], None]:
        def body() -> None:
            started = time.perf_counter()

            def on_steps(_steps: int) -> None:
                nonlocal started
                seconds[me] += time.perf_counter() - started
                if not lets[other[me]].dead:
                    lets[other[me]].switch()
                started = time.perf_counter()

            metrics[me] = trainers[me].train_epoch(on_steps=on_steps)
            seconds[me] += time.perf_counter() - started

        return body

    for key in trainers:
        lets[key] = greenlet.greenlet(run(key))
    lets[first].switch()
    while not all(g.dead for g in lets.values()):
        next(g for g in lets.values() if not g.dead).switch()
    return seconds, metrics


def geometric_mean_interval(ratios: Sequence[float]) -> tuple[float, float, float, float]:
    """Geometric mean of `ratios`, its 95% interval (normal, over the log ratios) and the
    spread (standard deviation) of the log ratios."""
    logs = [math.log(r) for r in ratios]
    mean, spread = statistics.fmean(logs), statistics.stdev(logs)
    half = 1.96 * spread / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half), spread
