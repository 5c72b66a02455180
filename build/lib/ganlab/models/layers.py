"""Building blocks shared by the models: the activations (registered in ACTIVATIONS,
so `model.g.activation` accepts exactly these) and PGGAN's stabilising layers
("Progressive growing of GANs")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab.registry import ACTIVATIONS

ACTIVATIONS.add("relu", nn.ReLU, "max(0, x)")
ACTIVATIONS.add("leaky_relu", lambda: nn.LeakyReLU(0.2), "leaky ReLU, slope 0.2 below 0")
ACTIVATIONS.add("tanh", nn.Tanh, "tanh")
ACTIVATIONS.add("elu", nn.ELU, "ELU")
ACTIVATIONS.add("silu", nn.SiLU, "SiLU (swish)")


def activation(name: str) -> nn.Module:
    """A new activation module by its registered name."""
    return ACTIVATIONS.get(name)()


class PixelNorm(nn.Module):
    """b = a / sqrt(mean over channels of a^2 + 1e-8), at every pixel: keeps G's feature
    magnitudes from escalating in the competition with D."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStdDev(nn.Module):
    """Appends one feature map: the standard deviation of each feature over groups of
    `group_size` samples, averaged to a scalar per group. D can then see a batch's lack of
    variety (mode collapse). Note it makes D's output on a sample depend on its group."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        group = next(g for g in range(min(self.group_size, b), 0, -1) if b % g == 0)
        y = x.reshape(group, -1, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (b / group,)
        feature = std.reshape(1, -1, 1, 1, 1).expand(group, -1, 1, h, w).reshape(b, 1, h, w)
        return torch.cat([x, feature], dim=1)
