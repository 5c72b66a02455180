"""Real samples you hold, with no known modes: what `ganlab.Watch` gets when your loop's
data is a plain tensor of points.

Monitors that need a mixture's modes (quality, scatter plots) or a dataset's classes
(class coverage) cannot measure such data; the gradient monitors, D's confidence and
precision/recall in data space can, and do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class SampleSet:
    """Points (N x d) drawn uniformly with replacement, like ImageData draws images."""

    name: str
    points: Tensor

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to(self, device: torch.device | str) -> SampleSet:
        return SampleSet(self.name, self.points.to(device))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n points drawn uniformly (with replacement); `generator` keeps draws fixed."""
        idx = torch.randint(len(self), (n,), device=self.points.device, generator=generator)
        return self.points[idx]
