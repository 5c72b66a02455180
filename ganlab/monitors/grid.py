"""A grid of generated images from fixed latents, one PNG per chosen epoch."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from ganlab.config import GridMonitorConfig
from ganlab.core.seeding import generator
from ganlab.data.images import to_uint8
from ganlab.monitors.base import EvalState
from ganlab.monitors.context import MonitorContext
from ganlab.monitors.fid import generate
from ganlab.registry import register_monitor


class GridMonitor:
    makes_figures = True  # returns {artifact path: Figure}, not metrics
    name = "grid"
    measures_samples = True  # EMA generator: run again on it (paths under ema/)

    def __init__(self, cfg: GridMonitorConfig, latent_dim: int, seed: int, title: str) -> None:
        self.every_n_epochs = cfg.every_n_epochs
        self.latents = torch.randn(cfg.n_samples, latent_dim, generator=generator(seed, "grid"))
        self.title = title

    def __call__(self, state: EvalState) -> dict[str, Figure]:
        # torchvision (0.2 s to import) only for image runs: every run loads this module
        from torchvision.utils import make_grid

        images = to_uint8(generate(state.generator, self.latents, state.device, 256))
        grid = make_grid(images, nrow=int(len(images) ** 0.5), padding=2, pad_value=255)
        fig = Figure(figsize=(6, 6), dpi=100)
        ax = fig.add_subplot()
        ax.imshow(grid.permute(1, 2, 0).numpy().squeeze(), cmap="gray", vmin=0, vmax=255)
        ax.set_axis_off()
        ax.set_title(f"{self.title}  epoch {state.epoch}")
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.94)  # fixed size
        return {f"samples/epoch_{state.epoch:04d}.png": fig}


@register_monitor("grid", settings=GridMonitorConfig)
def build(ctx: MonitorContext) -> GridMonitor | None:
    """Images: a grid of samples from fixed latents (a figure)."""
    cfg = ctx.cfg.monitor.grid
    if not ctx.is_images or cfg.every_n_epochs <= 0:
        return None
    return GridMonitor(cfg, ctx.cfg.model.latent_dim, ctx.cfg.seed, ctx.title)
