"""Per-layer spectral norms of G's and D's weights, every epoch (cheap: one SVD per layer).

For a linear layer the spectral norm of W (its largest singular value) bounds how much the
layer can stretch its input, so the product over layers bounds the network's Lipschitz
constant: a D whose norms climb is getting sharper (Miyato et al. 2018, spectral
normalisation, hold them at 1). A convolution's weight (out, in, kh, kw) is read as the
(out, in * kh * kw) matrix, as spectral normalisation does; that is a proxy, not the norm of
the convolution operator. A transposed convolution's weight (in, out, kh, kw) is read as
(out, in * kh * kw) likewise. With torch's spectral_norm parametrisation the normalised
weight is what is measured.

Keys: `monitor/spectral/<g|d>/<layer path>`, e.g. `monitor/spectral/d/0` (an MLP D's first
layer).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from ganlab.config import LayerNormsConfig
from ganlab.monitors.base import EvalState
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def weight_matrix(layer: nn.Module) -> Tensor:
    """The layer's weight as (out features, everything else)."""
    weight = cast(Tensor, layer.weight).detach()
    if isinstance(layer, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return weight.reshape(weight.shape[0], -1)


@torch.no_grad()
def layer_spectral_norms(module: nn.Module) -> dict[str, float]:
    """{layer path: largest singular value of its weight matrix} for each weighted layer."""
    return {
        name: float(torch.linalg.matrix_norm(weight_matrix(layer).double(), ord=2))
        for name, layer in module.named_modules()
        if isinstance(layer, LAYERS)
    }


class LayerNormsMonitor:
    name = "layer_norms"
    makes_figures = False
    measures_samples = False

    def __init__(self, cfg: LayerNormsConfig) -> None:
        self.every_n_epochs = cfg.every_n_epochs

    def __call__(self, state: EvalState) -> dict[str, float]:
        stats: dict[str, float] = {}
        for net, module in (("g", state.generator), ("d", state.discriminator)):
            for name, value in layer_spectral_norms(module).items():
                stats[f"monitor/spectral/{net}/{name}"] = value
        return stats


@register_monitor("layer_norms", settings=LayerNormsConfig)
def build(ctx: MonitorContext) -> LayerNormsMonitor | None:
    """Spectral norm of every linear/conv weight of G and D."""
    cfg = ctx.cfg.monitor.layer_norms
    return LayerNormsMonitor(cfg) if cfg.every_n_epochs > 0 else None
