"""2-D Gaussian mixtures: the toy problems where mode dropping and mixing are visible.

Conventions (docs/method.md section 4): `ring` puts n modes evenly on a circle (angles
2*pi*k/n, so 8 modes really are 8; `linspace(0, 2pi, 8)` would give 7), `grid` puts a
square number of modes at spacing apart centred on the origin, `spiral` places modes along
an Archimedean spiral, `custom` takes the centres from config. Each layout is a
function `MixtureConfig -> centres` registered in LAYOUTS (ganlab.registry): a new layout
is one more function here, and `dataset.layout` accepts it (settings of its own: a
MixtureConfig subclass in ganlab/config/dataset.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ganlab.config.dataset import (
    CustomConfig,
    GridConfig,
    MixtureConfig,
    RingConfig,
    SpiralConfig,
)
from ganlab.registry import LAYOUTS


@dataclass
class GaussianMixture:
    """Isotropic Gaussian mixture with per-mode weights."""

    name: str
    centers: torch.Tensor  # (n_modes, 2)
    weights: torch.Tensor  # (n_modes,), sums to 1
    std: float

    @property
    def n_modes(self) -> int:
        return self.centers.shape[0]

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    def to(self, device: torch.device | str) -> GaussianMixture:
        return GaussianMixture(
            self.name, self.centers.to(device), self.weights.to(device), self.std
        )

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw n points; uses `generator` when given so evaluation sets stay fixed."""
        device = self.centers.device
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, device=device, generator=generator)
        return self.centers[idx] + self.std * noise


def ring_centers(n: int, radius: float) -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    return torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1)


def grid_centers(n: int, spacing: float) -> torch.Tensor:
    side = round(math.sqrt(n))
    offsets = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(offsets, offsets, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def spiral_centers(n: int, inner_radius: float, outer_radius: float, turns: float) -> torch.Tensor:
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    radius = inner_radius + (outer_radius - inner_radius) * t
    angle = 2 * math.pi * turns * t
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


@LAYOUTS.register("ring")
def ring(cfg: RingConfig) -> torch.Tensor:
    """`n_modes` evenly on a circle of `radius`."""
    return ring_centers(cfg.n_modes, cfg.radius)


@LAYOUTS.register("grid")
def grid(cfg: GridConfig) -> torch.Tensor:
    """A square number of modes, `spacing` apart, centred on the origin."""
    return grid_centers(cfg.n_modes, cfg.spacing)


@LAYOUTS.register("spiral")
def spiral(cfg: SpiralConfig) -> torch.Tensor:
    """Along a spiral from `inner_radius` to `radius`, `turns` turns."""
    return spiral_centers(cfg.n_modes, cfg.inner_radius, cfg.radius, cfg.turns)


@LAYOUTS.register("custom")
def custom(cfg: CustomConfig) -> torch.Tensor:
    """The `centers` listed in the config."""
    return torch.tensor(cfg.centers, dtype=torch.float64)


def build_mixture(cfg: MixtureConfig) -> GaussianMixture:
    """Mixture described by a validated dataset config."""
    centers = LAYOUTS.get(cfg.layout)(cfg)
    if cfg.weights is None:
        weights = torch.full((len(centers),), 1.0 / len(centers), dtype=torch.float64)
    else:
        weights = torch.tensor(cfg.weights, dtype=torch.float64)
        weights = weights / weights.sum()
    return GaussianMixture(cfg.name, centers.float(), weights.float(), cfg.std)
