"""Monitors: what is measured at evaluation epochs, on fixed evaluation sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganlab.config import MonitorConfig
from ganlab.data import GaussianMixture
from ganlab.monitors.base import EvalState, is_due
from ganlab.monitors.quality import MixtureQualityMonitor
from ganlab.monitors.scatter import ScatterMonitor


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
    cfg: MonitorConfig, mixture: GaussianMixture, latent_dim: int, seed: int, title: str
) -> MonitorSuite:
    cpu_mixture = mixture.to("cpu")
    return MonitorSuite(
        metric_monitors=[MixtureQualityMonitor(cfg.quality, cpu_mixture, latent_dim, seed)],
        figure_monitors=[
            ScatterMonitor(cfg.scatter, cpu_mixture, latent_dim, seed, cfg.quality.hq_std, title)
        ],
    )


__all__ = ["EvalState", "MonitorSuite", "build_monitors", "is_due"]
