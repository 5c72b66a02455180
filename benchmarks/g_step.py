"""The generator step with G's gradients only vs a full backward, ring8, one process.

Since 32bb4f4 the G step calls `backward(inputs=G's parameters)`: the backward pass still
runs through D to reach G, but skips D's weight gradients, which were thrown away at D's
next step anyway. Two trainers from the same seed, one with ganlab's G step and one with
the full backward it replaced, take turns every 10 steps on one thread
(benchmarks/turns.py); the script first checks that both end every epoch with identical
weights, so the ratio compares the same arithmetic minus D's weight gradients. Printed:
ganlab's epoch time over the full backward's (geometric mean over epochs, 95% interval).

    python benchmarks/g_step.py [--epochs 40]
"""

from __future__ import annotations

import statistics

import torch
from torch import Tensor
from turns import (  # benchmarks/turns.py
    default_config,
    epoch_in_turns,
    epochs_parser,
    geometric_mean_interval,
    parse_epochs,
)

from ganlab.core.seeding import generator
from ganlab.training.build import build_parts
from ganlab.training.steps import Trainer


class FullBackwardTrainer(Trainer):
    """The G step before 32bb4f4: one backward into every parameter, D's included."""

    def _g_step(self, sigma: float) -> dict[str, Tensor]:
        p = self.parts
        fake = self._noisy(p.generator(self._latents()), sigma)
        loss = p.formulation.g_loss(p.discriminator(fake))
        p.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        p.opt_g.step()
        return {"loss_g": loss.detach()}


def same_weights(a: Trainer, b: Trainer) -> bool:
    return all(
        torch.equal(x, y)
        for net in ("generator", "discriminator")
        for x, y in zip(
            getattr(a.parts, net).state_dict().values(),
            getattr(b.parts, net).state_dict().values(),
            strict=True,
        )
    )


def main() -> None:
    args = parse_epochs(epochs_parser(__doc__, epochs=40))
    cfg = default_config()
    device = torch.device("cpu")
    trainers: dict[str, Trainer] = {
        name: cls(build_parts(cfg, device), cfg.trainer, cfg.loss, generator(cfg.seed, "train"))
        for name, cls in (("ganlab", Trainer), ("full", FullBackwardTrainer))
    }
    ratios, full_seconds = [], []
    for epoch in range(args.epochs):
        seconds, _ = epoch_in_turns(trainers, first="ganlab" if epoch % 2 else "full")
        if not same_weights(trainers["ganlab"], trainers["full"]):
            raise SystemExit(f"the two trainers' weights differ after epoch {epoch + 1}")
        if epoch == 0:
            continue  # warm-up
        ratios.append(seconds["ganlab"] / seconds["full"])
        full_seconds.append(seconds["full"])
    ratio, low, high, spread = geometric_mean_interval(ratios)
    print(
        f"ring8, default settings, {cfg.trainer.steps_per_epoch} steps/epoch, "
        f"{torch.get_num_threads()} threads, {len(ratios)} measured epochs, identical weights "
        f"after every epoch"
    )
    print(f"full-backward epoch: {statistics.median(full_seconds):.3f} s (median)")
    print(
        f"epoch time, G's gradients only / full backward: {ratio:.3f} "
        f"(95% CI {low:.3f}-{high:.3f}, spread of the per-epoch log ratio {spread:.3f})"
    )


if __name__ == "__main__":
    main()
