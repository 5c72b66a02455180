"""Fully connected generator and discriminator for low-dimensional data.

The discriminator returns raw scores (logits / critic values); each loss applies its own
link function, so the same network serves every formulation.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganlab.config import ModelConfig, NetConfig
from ganlab.models.layers import activation
from ganlab.registry import register_model


def mlp(in_dim: int, out_dim: int, cfg: NetConfig) -> nn.Sequential:
    """`cfg.depth` hidden layers of `cfg.width` units, then a linear output layer."""
    wrap = spectral_norm if cfg.spectral_norm else (lambda layer: layer)
    layers: list[nn.Module] = []
    width_in = in_dim
    for _ in range(cfg.depth):
        layers += [wrap(nn.Linear(width_in, cfg.width)), activation(cfg.activation)]
        width_in = cfg.width
    layers.append(wrap(nn.Linear(width_in, out_dim)))
    return nn.Sequential(*layers)


def build_mlp_pair(cfg: ModelConfig, data_dim: int) -> tuple[nn.Module, nn.Module]:
    """(generator: latent -> data, discriminator: data -> one raw score)."""
    return mlp(cfg.latent_dim, data_dim, cfg.g), mlp(data_dim, 1, cfg.d)


@register_model("mlp", kinds=("mixture",))
def build_mlp(cfg: ModelConfig, data) -> tuple[nn.Module, nn.Module]:  # noqa: ANN001
    """Fully connected G and D for 2-D mixtures (`depth` hidden layers of `width`)."""
    return build_mlp_pair(cfg, data.dim)
