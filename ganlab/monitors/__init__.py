"""Monitors: what is measured at evaluation epochs, on fixed evaluation sets.

One module per monitor, each registering a builder in MONITORS (ganlab.registry): the
builder reads the run's config and data from a MonitorContext and returns its monitor,
or None when the config switches it off or the data does not suit it. A new monitor is
one module here: `@register_monitor("name", settings=<its dataclass>)`, its settings
read from `monitor.plugins.<name>` (`ctx.settings("name")`); the monitors ganlab started
with have their blocks in ganlab/config/monitor.py.

All gradient monitors share the run's fixed evaluation latents Z_eval (drawn once from
the seed), so their curves are comparable across epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch

from ganlab.config import GanlabConfig, MonitorConfig
from ganlab.core.seeding import generator
from ganlab.monitors.base import EvalState, is_due
from ganlab.monitors.context import MonitorContext, RunParts
from ganlab.registry import MONITORS, Monitor

# the monitors with a block of their own in MonitorConfig; the others read monitor.plugins
BLOCKS = frozenset(f.name for f in fields(MonitorConfig))
EMA_PREFIX = "ema/"  # keys of the EMA generator's samples: ema/quality/hq_fraction, ...


@dataclass
class MonitorSuite:
    """The run's monitors; `evaluate` runs those due and splits metrics from figures."""

    metric_monitors: list[Monitor] = field(default_factory=list)
    figure_monitors: list[Monitor] = field(default_factory=list)

    def evaluate(self, state: EvalState, last_epoch: int) -> tuple[dict[str, float], dict]:
        """Every monitor due at this epoch; with an EMA generator, the sample monitors
        again on it, their metric keys and figure paths prefixed `ema/`."""
        metrics: dict[str, float] = {}
        figures: dict = {}
        for monitors, out in ((self.metric_monitors, metrics), (self.figure_monitors, figures)):
            for monitor in monitors:
                if not is_due(monitor.every_n_epochs, state.epoch, last_epoch):
                    continue
                out.update(monitor(state))
                if state.ema_generator is not None and monitor.measures_samples:
                    ema_state = state.with_generator(state.ema_generator)
                    out.update({f"{EMA_PREFIX}{k}": v for k, v in monitor(ema_state).items()})
        return metrics, figures


def build_monitors(cfg: GanlabConfig, parts: RunParts, title: str) -> MonitorSuite:
    """Every monitor of the MONITORS registry the run's config switches on, suited to
    its data (mixture or images); each builder decides from the config."""
    mon = cfg.monitor
    data = parts.data.to("cpu")
    rng = generator(cfg.seed, "monitor/z_eval")
    z_eval = torch.randn(mon.eval_latents, cfg.model.latent_dim, generator=rng)
    real = data.sample(mon.dgrad.n_real, rng)
    ctx = MonitorContext(cfg, parts.formulation, data, z_eval, real, title, parts.device)
    suite = MonitorSuite()
    for entry in MONITORS.entries():
        if not mon.added and entry.name not in BLOCKS and entry.value.settings is not None:
            continue  # monitor=none: the monitors added with settings are off too
        monitor = entry.value.build(ctx)
        if monitor is None:
            continue
        (suite.figure_monitors if monitor.makes_figures else suite.metric_monitors).append(monitor)
    return suite


def image_quality_monitors(cfg: GanlabConfig, parts: RunParts) -> list:
    """The image-quality monitors the config switches on (FID, class coverage), built
    as a run builds them: the classifier is trained once and FID statistics cached."""
    suite = build_monitors(cfg, parts, "prepare")
    return [m for m in suite.metric_monitors if m.name in ("fid", "classifier")]


__all__ = ["EvalState", "MonitorContext", "MonitorSuite", "build_monitors", "is_due"]
