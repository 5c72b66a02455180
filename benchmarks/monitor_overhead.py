"""Monitor overhead on ring8 at default settings, relative to training time, one process.

Two trainers built from the same seed follow identical trajectories, one reading the
in-step statistics (parameter-gradient norms, D's logit magnitudes, layer activations,
parameter movement) and one not. They take turns every 10 steps on one thread
(benchmarks/turns.py), so the machine's drift falls on both alike: the in-step cost is a
paired ratio per epoch (geometric mean over epochs, with its 95% interval); which of the
two starts alternates from one epoch to the next. Whole epochs in turn, as this script
did before 2026-12-04, left a 0.11 spread of the per-epoch log ratio against 0.04-0.06
now. `--control` makes both trainers plain, so the ratio shows the method's own bias
(it should be 1).

After each epoch every monitor is timed on the same state. A monitor's overhead = its
time per epoch (its time per call / every_n_epochs) divided by the training time of an
epoch. Target: all default monitors together <= 5%. The duality gap is off by default;
its cost is reported apart, at the phase studies' interval (5).

    python benchmarks/monitor_overhead.py [--epochs 60] [--control]
"""

from __future__ import annotations

import statistics
import time

import torch
from turns import (  # benchmarks/turns.py
    default_config,
    epoch_in_turns,
    epochs_parser,
    geometric_mean_interval,
    parse_epochs,
)

from ganlab.core.seeding import generator
from ganlab.monitors import EvalState, build_monitors
from ganlab.training.build import build_parts
from ganlab.training.run import signals_config
from ganlab.training.steps import Trainer

GRADIENT_MONITORS = ("steepness", "dgrad", "dconf", "jsd")


def main() -> None:
    parser = epochs_parser(__doc__, epochs=60)
    parser.add_argument(
        "--control", action="store_true", help="both trainers plain: the method's own bias"
    )
    args = parse_epochs(parser)
    cfg = default_config()
    gap_cfg = default_config("monitor.duality_gap.every_n_epochs=5")
    device = torch.device("cpu")
    trainers = {}
    for in_step in (False, True):
        parts = build_parts(cfg, device)
        reads = in_step and not args.control
        trainers[in_step] = Trainer(
            parts,
            cfg.trainer,
            cfg.loss,
            generator(cfg.seed, "train"),
            track_grad_norms=reads,
            signals=signals_config(cfg) if reads else None,
        )
    parts = trainers[True].parts
    suite = build_monitors(cfg, parts, "bench")
    monitors = {m.name: m for m in suite.metric_monitors + suite.figure_monitors}
    assert "duality_gap" not in monitors  # off by default
    gap_suite = build_monitors(gap_cfg, parts, "bench")
    monitors["duality_gap"] = next(m for m in gap_suite.metric_monitors if m.name == "duality_gap")

    train_plain, norm_ratios = [], []
    per_call: dict[str, list[float]] = {name: [] for name in monitors}
    for epoch in range(args.epochs):
        seconds, metrics = epoch_in_turns(trainers, first=epoch % 2 == 1)
        if epoch == 0:
            continue  # warm-up: lazy imports, allocator, first torch.func traces
        train_plain.append(seconds[False])
        norm_ratios.append(seconds[True] / seconds[False])
        train_metrics = metrics[True]
        state = EvalState(parts.generator, parts.discriminator, epoch, device, train_metrics)
        for name, monitor in monitors.items():
            started = time.perf_counter()
            out = monitor(state)
            per_call[name].append(time.perf_counter() - started)
            for value in out.values():
                if hasattr(value, "clear"):
                    value.clear()  # matplotlib figures

    epoch_time = statistics.median(train_plain)
    print(
        f"ring8, default settings, {cfg.trainer.steps_per_epoch} steps/epoch, "
        f"{torch.get_num_threads()} threads, {args.epochs - 1} measured epochs"
    )
    print(f"training epoch (no monitors): {epoch_time:.3f} s (median)\n")
    print(f"{'monitor':<22}{'per call':>10}{'every':>7}{'per epoch':>11}{'overhead':>10}")
    ratio, low, high, spread = geometric_mean_interval(norm_ratios)
    print(
        f"{'control (both plain)' if args.control else 'in-step statistics'}: epoch x "
        f"{ratio:.3f} (95% CI {low:.3f}-{high:.3f}, "
        f"spread of the per-epoch log ratio {spread:.3f})\n"
    )
    rows = {"in-step": (epoch_time * (ratio - 1), 1)}
    for name, times in per_call.items():
        rows[name] = (statistics.median(times), max(monitors[name].every_n_epochs, 1))
    overhead = {}
    for name, (call, every) in rows.items():
        overhead[name] = call / every / epoch_time
        print(f"{name:<22}{call:>9.3f}s{every:>7d}{call / every:>10.3f}s{overhead[name]:>9.1%}")
    gradient = overhead["in-step"] + sum(overhead[n] for n in GRADIENT_MONITORS)
    print(f"\ngradient monitors (in-step + {', '.join(GRADIENT_MONITORS)}): {gradient:.1%}")
    print(f"quality + scatter: {overhead['quality'] + overhead['scatter']:.1%}")
    default = sum(v for k, v in overhead.items() if k != "duality_gap")
    print(f"all default monitors: {default:.1%} of training time (target <= 5%)")
    print(
        f"duality gap (off by default) if on every {rows['duality_gap'][1]} epochs: "
        f"+{overhead['duality_gap']:.1%}"
    )


if __name__ == "__main__":
    main()
