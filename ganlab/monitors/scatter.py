"""Scatter plot of generated samples over the true modes, one PNG per chosen epoch.

Mode dropping and mode mixture (samples strung between modes) are obvious in this
picture long before they are obvious in any number.
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from ganlab.config import ScatterMonitorConfig
from ganlab.core.seeding import generator
from ganlab.data import GaussianMixture
from ganlab.monitors.base import EvalState, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor


def scatter_figure(
    samples: torch.Tensor, mixture: GaussianMixture, hq_std: float, title: str
) -> Figure:
    """Samples as dots, each mode as a circle of radius hq_std * std (the high-quality zone)."""
    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    pts = samples.detach().cpu().numpy()
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
    centers = mixture.centers.cpu().numpy()
    for x, y in centers:
        ax.add_patch(Circle((x, y), hq_std * mixture.std, fill=False, color="tab:red", lw=1))
    ax.scatter(centers[:, 0], centers[:, 1], marker="x", color="tab:red", s=20, label="modes")
    span = float(abs(centers).max()) + 1.0
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    # fixed margins (the figure's size never changes): tight_layout doubled its cost
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.07, top=0.93)
    return fig


class ScatterMonitor:
    """Draws samples from a fixed latent set so successive pictures are comparable."""

    makes_figures = True  # returns {artifact path: Figure}, not metrics
    name = "scatter"
    measures_samples = True  # EMA generator: run again on it (paths under ema/)

    def __init__(
        self,
        cfg: ScatterMonitorConfig,
        mixture: GaussianMixture,
        latent_dim: int,
        seed: int,
        hq_std: float,
        title: str,
    ) -> None:
        self.every_n_epochs = cfg.every_n_epochs
        self.mixture = mixture
        self.hq_std = hq_std
        self.title = title
        self.latents = torch.randn(
            cfg.n_samples, latent_dim, generator=generator(seed, "monitor/scatter")
        )

    def __call__(self, state: EvalState) -> dict[str, Figure]:
        with evaluating(state.generator), torch.no_grad():
            samples = state.generator(self.latents.to(state.device))
        title = f"{self.title}  epoch {state.epoch}"
        fig = scatter_figure(samples, self.mixture, self.hq_std, title)
        return {f"samples/epoch_{state.epoch:04d}.png": fig}


@register_monitor("scatter", settings=ScatterMonitorConfig)
def build(ctx: MonitorContext) -> ScatterMonitor | None:
    """Mixtures: a scatter plot of samples over the true modes (a figure)."""
    cfg, mon = ctx.cfg.monitor.scatter, ctx.cfg.monitor
    if not ctx.is_mixture or cfg.every_n_epochs <= 0:
        return None
    return ScatterMonitor(
        cfg, ctx.mixture, ctx.cfg.model.latent_dim, ctx.cfg.seed, mon.quality.hq_std, ctx.title
    )
