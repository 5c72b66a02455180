"""Jensen-Shannon estimate from the discriminator loss (seeds 002/003).

For the logistic losses (mm, ns, mm_nsat), an optimal D gives L_D = 2 log 2 - 2 JSD, so
`jsd_estimate = log 2 - L_D / 2` with L_D the epoch's mean D loss (real + fake BCE). It
is exact only at the optimum; during training it is a lower bound in expectation. Free:
it reads the training loss, no extra pass.
"""

from __future__ import annotations

import math

from ganlab.monitors.base import EvalState
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor


def jsd_estimate(loss_d: float) -> float:
    return math.log(2.0) - loss_d / 2.0


class JSDMonitor:
    name = "jsd"
    makes_figures = False
    measures_samples = False
    every_n_epochs = 1

    def __call__(self, state: EvalState) -> dict[str, float]:
        loss_d = state.train_metrics.get("train/loss_d")
        return {} if loss_d is None else {"monitor/jsd_estimate": jsd_estimate(loss_d)}


@register_monitor("jsd")
def build(ctx: MonitorContext) -> JSDMonitor | None:
    """The JS estimate of the logistic losses, from D's training loss (free)."""
    return JSDMonitor() if ctx.formulation.logistic else None
