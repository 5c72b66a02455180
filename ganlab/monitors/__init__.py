"""Monitors: what is measured at evaluation epochs, on fixed evaluation sets.

All gradient monitors share the run's fixed evaluation latents Z_eval (drawn once from
the seed), so their curves are comparable across epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ganlab.config import MonitorConfig
from ganlab.data import GaussianMixture
from ganlab.losses import Formulation
from ganlab.monitors.base import EvalState, is_due
from ganlab.monitors.dgrad import DiscriminatorGradientMonitor
from ganlab.monitors.duality_gap import DualityGapMonitor
from ganlab.monitors.jsd import JSDMonitor
from ganlab.monitors.quality import MixtureQualityMonitor
from ganlab.monitors.scatter import ScatterMonitor
from ganlab.monitors.steepness import SteepnessMonitor
from ganlab.seeding import generator


@dataclass
class MonitorSuite:
    """The run's monitors; `evaluate` runs those due and splits metrics from figures."""

    metric_monitors: list[Any] = field(default_factory=list)
    figure_monitors: list[Any] = field(default_factory=list)

    def evaluate(self, state: EvalState, last_epoch: int) -> tuple[dict[str, float], dict]:
        metrics: dict[str, float] = {}
        figures: dict = {}
        for monitor in self.metric_monitors:
            if is_due(monitor.every_n_epochs, state.epoch, last_epoch):
                metrics.update(monitor(state))
        for monitor in self.figure_monitors:
            if is_due(monitor.every_n_epochs, state.epoch, last_epoch):
                figures.update(monitor(state))
        return metrics, figures


def build_monitors(
    cfg: MonitorConfig,
    mixture: GaussianMixture,
    latent_dim: int,
    seed: int,
    title: str,
    formulation: Formulation,
) -> MonitorSuite:
    cpu_mixture = mixture.to("cpu")
    rng = generator(seed, "monitor/z_eval")
    z_eval = torch.randn(cfg.eval_latents, latent_dim, generator=rng)
    real = cpu_mixture.sample(cfg.dgrad.n_real, rng)
    metric_monitors: list[Any] = [
        MixtureQualityMonitor(cfg.quality, cpu_mixture, latent_dim, seed),
        SteepnessMonitor(cfg.steepness, z_eval, mixture.dim, seed),
        DiscriminatorGradientMonitor(cfg.dgrad, z_eval, real, formulation),
        DualityGapMonitor(cfg.duality_gap, formulation, cpu_mixture, latent_dim, seed),
    ]
    if formulation.logistic:
        metric_monitors.append(JSDMonitor())
    return MonitorSuite(
        metric_monitors=metric_monitors,
        figure_monitors=[
            ScatterMonitor(cfg.scatter, cpu_mixture, latent_dim, seed, cfg.quality.hq_std, title)
        ],
    )


__all__ = ["EvalState", "MonitorSuite", "build_monitors", "is_due"]
