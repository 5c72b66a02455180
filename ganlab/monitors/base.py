"""What every monitor sees, and when it runs.

Monitors share one interface: an `every_n_epochs` attribute (0 = off) and
`__call__(state) -> dict`. Metric monitors return `{metric key: float}`; figure monitors
return `{artifact path: matplotlib Figure}`. They never touch MLflow themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class EvalState:
    generator: nn.Module
    discriminator: nn.Module
    epoch: int  # completed epochs; 0 = before training
    device: torch.device


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
