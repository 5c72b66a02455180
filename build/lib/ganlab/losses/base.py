"""What every loss formulation is, and the pieces several of them share.

Notation (docs/method.md section 2): `l = D(x)` is the discriminator's raw output,
`p = sigmoid(l)`, `sp = softplus`. Per-sample losses are averaged over the batch; every
logistic loss is written with softplus so it stays finite when D is certain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Formulation:
    """A loss pair. `logistic`: D's output is the logit of P(real), so JSD estimates apply.

    `decision_threshold`: the raw output above which D calls a sample real (0 for logits
    and hinge margins, 0.5 between LSGAN's targets 0 and 1); None for critics (WGAN),
    whose outputs have no fixed offset.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (l_real, l_fake) -> scalar
    g_loss: Callable[[Tensor], Tensor]  # l_fake -> scalar
    logistic: bool
    decision_threshold: float | None = 0.0


def logistic_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    """Binary cross-entropy of D: -log p(real) - log(1 - p(fake))."""
    return F.softplus(-l_real).mean() + F.softplus(l_fake).mean()


def non_saturating_g_loss(l_fake: Tensor) -> Tensor:
    """Minimise -log p = sp(-l). Gradient per sample is -(1 - p) / N."""
    return F.softplus(-l_fake).mean()


def wasserstein_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    return l_fake.mean() - l_real.mean()


def wasserstein_g_loss(l_fake: Tensor) -> Tensor:
    return -l_fake.mean()
