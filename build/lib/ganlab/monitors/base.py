"""What every monitor sees, and when it runs.

Monitors share one interface: an `every_n_epochs` attribute (0 = off) and
`__call__(state) -> dict`. A monitor with `measures_samples = True` measures only what G
generates, so with an EMA generator it is run on that too, its keys prefixed `ema/`.
Metric monitors return `{metric key: float}`; figure monitors return
`{artifact path: matplotlib Figure}`. They never touch MLflow themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class EvalState:
    generator: nn.Module
    discriminator: nn.Module
    epoch: int  # completed epochs; 0 = before training
    device: torch.device
    train_metrics: dict[str, float] = field(default_factory=dict)  # this epoch's train/*
    ema_generator: nn.Module | None = None  # trainer.ema_decay > 0: the averaged G

    def with_generator(self, generator: nn.Module) -> EvalState:
        """The same state, measured on another generator (the EMA copy)."""
        return EvalState(generator, self.discriminator, self.epoch, self.device, self.train_metrics)


def is_due(every_n_epochs: int, epoch: int, last_epoch: int) -> bool:
    """Run at epoch 0, every n epochs, and always at the last epoch (0 = never)."""
    if every_n_epochs <= 0:
        return False
    return epoch % every_n_epochs == 0 or epoch == last_epoch


@contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Eval mode inside the block; each module's previous mode restored after."""
    previous = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, was_training in zip(modules, previous, strict=True):
            m.train(was_training)


_QUANTILES = {"median": 0.5, "p90": 0.9, "p99": 0.99}


def distribution_stats(
    prefix: str, values: torch.Tensor, names: tuple[str, ...]
) -> dict[str, float]:
    """{prefix_mean, prefix_p90, ...} of a 1-D tensor; names from mean, max, median, p90, p99."""
    v = values.detach().double().cpu().flatten()
    stats: dict[str, float] = {}
    for name in names:
        if name == "mean":
            stats[f"{prefix}_mean"] = float(v.mean())
        elif name == "max":
            stats[f"{prefix}_max"] = float(v.max())
        else:
            stats[f"{prefix}_{name}"] = float(torch.quantile(v, _QUANTILES[name]))
    return stats
