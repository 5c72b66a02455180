"""Is the training epoch that follows the monitors slower? One process, interleaved.

Issue 27 asked to explain why, in monitor_overhead.py's pairing as it was until
2026-12-04 (plain epoch, in-step epoch, then every monitor on the in-step trainer's
networks), the in-step ratio read 13.1% with the monitors in between and 6.2% without,
in two separate runs. Two runs apart differ by the machine's drift as well; this script
asks the question inside one process: the same pair of trainers (A plain, B with the
in-step statistics, built from one seed) alternate epochs for `--rounds` rounds, and the
default monitors (with `--gap`, also the duality gap at the phase studies' interval) run
on B's networks after every other round. If the monitors slowed the epoch after them
(allocator state, thread pools, caches, the autograd engine), B/A would differ between
the rounds right after the monitors and the rounds after none.

    python benchmarks/monitor_after.py [--rounds 60] [--gap]
"""

from __future__ import annotations

import argparse
import time

import torch
from turns import default_config, geometric_mean_interval  # benchmarks/turns.py

from ganlab.core.seeding import generator
from ganlab.monitors import EvalState, build_monitors
from ganlab.training.build import build_parts
from ganlab.training.run import signals_config
from ganlab.training.steps import Trainer


def interval(ratios: list[float]) -> str:
    ratio, low, high, _spread = geometric_mean_interval(ratios)
    return f"{ratio:.3f} (95% CI {low:.3f}-{high:.3f}, {len(ratios)} rounds)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--gap", action="store_true", help="also the duality gap (every 5)")
    parser.add_argument(
        "--control",
        action="store_true",
        help="B without the in-step statistics: B/A is then position alone",
    )
    args = parser.parse_args()
    cfg = default_config(*(["monitor.duality_gap.every_n_epochs=5"] if args.gap else []))
    device = torch.device("cpu")
    trainers = {}
    for name, in_step in (("A", False), ("B", not args.control)):
        trainers[name] = Trainer(
            build_parts(cfg, device),
            cfg.trainer,
            cfg.loss,
            generator(cfg.seed, "train"),
            track_grad_norms=in_step,
            signals=signals_config(cfg) if in_step else None,
        )
    parts = trainers["B"].parts
    suite = build_monitors(cfg, parts, "bench")
    monitors = suite.metric_monitors + suite.figure_monitors
    print(f"monitors on B's networks: {', '.join(m.name for m in monitors)}")
    after: dict[bool, list[float]] = {True: [], False: []}
    monitors_ran = False
    for round_ in range(args.rounds):
        seconds = {}
        for name in "AB":
            started = time.perf_counter()
            metrics = trainers[name].train_epoch()
            seconds[name] = time.perf_counter() - started
        if round_ >= 2:  # warm-up: lazy imports, first torch.func traces
            after[monitors_ran].append(seconds["B"] / seconds["A"])
        monitors_ran = round_ % 2 == 0
        if monitors_ran:
            state = EvalState(parts.generator, parts.discriminator, round_, device, metrics)
            for monitor in monitors:
                for value in monitor(state).values():
                    if hasattr(value, "clear"):
                        value.clear()  # matplotlib figures
    print(f"{torch.get_num_threads()} threads, {cfg.trainer.steps_per_epoch} steps/epoch")
    print(f"B/A in the rounds right after the monitors: {interval(after[True])}")
    print(f"B/A in the rounds after none:               {interval(after[False])}")


if __name__ == "__main__":
    main()
