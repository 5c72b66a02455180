"""Monitors: what is measured at evaluation epochs, on fixed evaluation sets.

All gradient monitors share the run's fixed evaluation latents Z_eval (drawn once from
the seed), so their curves are comparable across epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganlab.classifier import load_or_train, register_with_torch_fidelity
from ganlab.config import GanlabConfig
from ganlab.data import GaussianMixture, ImageData
from ganlab.monitors.base import EvalState, is_due
from ganlab.monitors.coverage import ClassCoverageMonitor
from ganlab.monitors.dconf import DiscriminatorConfidenceMonitor
from ganlab.monitors.dgrad import DiscriminatorGradientMonitor
from ganlab.monitors.duality_gap import DualityGapMonitor
from ganlab.monitors.fid import INCEPTION, FIDMonitor
from ganlab.monitors.grid import GridMonitor
from ganlab.monitors.jsd import JSDMonitor
from ganlab.monitors.quality import MixtureQualityMonitor
from ganlab.monitors.scatter import ScatterMonitor
from ganlab.monitors.steepness import SteepnessMonitor
from ganlab.seeding import generator

if TYPE_CHECKING:  # the trainer imports monitors.dgrad: a runtime import would be circular
    from ganlab.trainer import GanParts


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


def build_monitors(cfg: GanlabConfig, parts: GanParts, title: str) -> MonitorSuite:
    """The monitors a run's config asks for, suited to its data (mixture or images)."""
    mon = cfg.monitor
    data = parts.data.to("cpu")
    latent_dim, seed = cfg.model.latent_dim, cfg.seed
    rng = generator(seed, "monitor/z_eval")
    z_eval = torch.randn(mon.eval_latents, latent_dim, generator=rng)
    real = data.sample(mon.dgrad.n_real, rng)
    metric_monitors: list[Any] = [
        SteepnessMonitor(mon.steepness, z_eval, data.dim, seed),
        DiscriminatorGradientMonitor(mon.dgrad, z_eval, real, parts.formulation),
        DiscriminatorConfidenceMonitor(
            mon.dconf,
            z_eval,
            data.sample(mon.dconf.n_real, generator(seed, "monitor/dconf")),
            parts.formulation,
        ),
        DualityGapMonitor(mon.duality_gap, parts.formulation, data, latent_dim, seed),
    ]
    if parts.formulation.logistic:
        metric_monitors.append(JSDMonitor())
    if isinstance(data, GaussianMixture):
        metric_monitors.append(MixtureQualityMonitor(mon.quality, data, latent_dim, seed))
        figure = ScatterMonitor(mon.scatter, data, latent_dim, seed, mon.quality.hq_std, title)
        return MonitorSuite(metric_monitors, [figure])
    metric_monitors += image_quality_monitors(cfg, data, parts.device)
    return MonitorSuite(metric_monitors, [GridMonitor(mon.grid, latent_dim, seed, title)])


def image_quality_monitors(cfg: GanlabConfig, data: ImageData, device: torch.device) -> list:
    """FID (torch-fidelity) and class coverage; the classifier is trained once if needed."""
    mon, data_root = cfg.monitor, Path(cfg.paths.data_root)
    needs_classifier = mon.classifier.every_n_epochs > 0 or (
        mon.fid.every_n_epochs > 0 and mon.fid.feature_extractor == "classifier"
    )
    monitors: list[Any] = []
    extractor = INCEPTION
    if needs_classifier:
        classifier = load_or_train(
            data, data_root / "classifiers", mon.classifier.train_epochs, device
        )
        if mon.classifier.every_n_epochs > 0:
            monitors.append(
                ClassCoverageMonitor(
                    mon.classifier, classifier, data, cfg.model.latent_dim, cfg.seed
                )
            )
        if mon.fid.feature_extractor == "classifier":
            # the classifier's training length is part of the protocol, hence of the name
            name = f"ganlab-classifier-{data.identity}-e{mon.classifier.train_epochs}"
            extractor = register_with_torch_fidelity(classifier, name)
    if mon.fid.every_n_epochs > 0:
        monitors.append(
            FIDMonitor(
                mon.fid,
                data,
                cfg.model.latent_dim,
                cfg.seed,
                data_root / "fidelity_cache",
                extractor,
            )
        )
    return monitors


__all__ = ["EvalState", "MonitorSuite", "build_monitors", "is_due"]
