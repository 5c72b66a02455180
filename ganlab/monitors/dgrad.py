"""How the discriminator pushes samples (seed 000's particle view of GAN training).

A generated sample x = G(z) moves along -grad_x L_G(x) when G is updated. Logged over
the evaluation latents Z_eval:

- `monitor/dgrad_fake_*`: ||grad_x D(x)|| at the fakes (raw D output, any loss);
- `monitor/dgrad_real_*`: the same at a fixed batch of real samples;
- `monitor/velocity_*`: ||grad_x l_G(x)|| at the fakes, l_G the configured loss per sample
  (N times the gradient of the batch mean, so it does not depend on the batch size).

The discriminator-gradient spikes of a collapse event (seed 001: "the discriminator
overshoots, leading to exaggerated gradients") show in `dgrad_fake`; vanishing gradients
(seed 003) show as `velocity` going to 0 while `dgrad_fake` stays large.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ganlab.config import DiscriminatorGradientConfig
from ganlab.losses import Formulation
from ganlab.monitors.base import EvalState, distribution_stats, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor

STATS = ("mean", "p90", "max")


def input_gradient_norms(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """||d fn(x)_i / d x_i|| per sample, for fn whose outputs depend only on their own row."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad.flatten(1).norm(dim=1)


class DiscriminatorGradientMonitor:
    name = "dgrad"
    makes_figures = False
    measures_samples = False

    def __init__(
        self,
        cfg: DiscriminatorGradientConfig,
        z_eval: Tensor,
        real: Tensor,
        formulation: Formulation,
    ) -> None:
        self.every_n_epochs = cfg.every_n_epochs
        self.z_eval = z_eval
        self.real = real
        self.formulation = formulation

    def __call__(self, state: EvalState) -> dict[str, float]:
        g, d = state.generator, state.discriminator
        with evaluating(g, d):
            with torch.no_grad():
                fake = g(self.z_eval.to(state.device))
            n = fake.shape[0]

            def generator_loss_per_sample(x: Tensor) -> Tensor:
                return n * self.formulation.g_loss(d(x))

            stats = distribution_stats("monitor/dgrad_fake", input_gradient_norms(d, fake), STATS)
            stats |= distribution_stats(
                "monitor/dgrad_real", input_gradient_norms(d, self.real.to(state.device)), STATS
            )
            stats |= distribution_stats(
                "monitor/velocity", input_gradient_norms(generator_loss_per_sample, fake), STATS
            )
        return stats


@register_monitor("dgrad", settings=DiscriminatorGradientConfig)
def build(ctx: MonitorContext) -> DiscriminatorGradientMonitor | None:
    """D's input gradient at fakes and reals, and the particle velocity."""
    cfg = ctx.cfg.monitor.dgrad
    if cfg.every_n_epochs <= 0:
        return None
    return DiscriminatorGradientMonitor(cfg, ctx.z_eval, ctx.real, ctx.formulation)
