"""What each part of the in-step statistics costs, ring8 at the defaults, one process.

For each part, a trainer reading only that part and a plain trainer from the same seed
take turns every 10 steps on one thread (benchmarks/turns.py); printed: its epoch time
over the plain one's (geometric mean over epochs, 95% interval). Parts: the parameter-
gradient norms (`monitor.param_grads`), the layer probe (`monitor.signals.every_n_steps`),
D's logit magnitudes alone and with the parameter movement (`monitor.signals.update_norms`),
and all of them together, as a default run has them.

    python benchmarks/in_step_parts.py [--epochs 41]
"""

from __future__ import annotations

import torch
from turns import (  # benchmarks/turns.py
    default_config,
    epoch_in_turns,
    epochs_parser,
    geometric_mean_interval,
    parse_epochs,
)

from ganlab.config import SignalsConfig
from ganlab.core.seeding import generator
from ganlab.training.build import build_parts
from ganlab.training.run import signals_config
from ganlab.training.steps import Trainer


def main() -> None:
    args = parse_epochs(epochs_parser(__doc__, epochs=41))
    cfg = default_config()
    every = cfg.monitor.signals.every_n_steps
    parts = {
        "gradient norms": {"track_grad_norms": True},
        f"layer probe (every {every} steps)": {
            "signals": SignalsConfig(every_n_steps=every, update_norms=False)
        },
        "logit magnitudes": {"signals": SignalsConfig(every_n_steps=0, update_norms=False)},
        "logits + parameter movement": {
            "signals": SignalsConfig(every_n_steps=0, update_norms=True)
        },
        "all (a default run)": {"track_grad_norms": True, "signals": signals_config(cfg)},
    }
    device = torch.device("cpu")
    print(
        f"ring8, default settings, {cfg.trainer.steps_per_epoch} steps/epoch, "
        f"{torch.get_num_threads()} threads, {args.epochs - 1} measured epochs per part"
    )
    for name, reads in parts.items():
        trainers = {
            "plain": Trainer(
                build_parts(cfg, device), cfg.trainer, cfg.loss, generator(cfg.seed, "train")
            ),
            "part": Trainer(
                build_parts(cfg, device),
                cfg.trainer,
                cfg.loss,
                generator(cfg.seed, "train"),
                **reads,
            ),
        }
        ratios = []
        for epoch in range(args.epochs):
            seconds, _ = epoch_in_turns(trainers, first="part" if epoch % 2 else "plain")
            if epoch:  # the first is a warm-up
                ratios.append(seconds["part"] / seconds["plain"])
        ratio, low, high, spread = geometric_mean_interval(ratios)
        print(
            f"{name:<32}{ratio - 1:+7.1%} (95% CI {low - 1:+.1%} to {high - 1:+.1%}, "
            f"spread {spread:.3f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
