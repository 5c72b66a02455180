"""Hinge GAN: D relu(1 - l_real) + relu(1 + l_fake), G -mean(l_fake)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation, wasserstein_g_loss
from ganlab.registry import LOSSES


def hinge_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    return F.relu(1 - l_real).mean() + F.relu(1 + l_fake).mean()


@LOSSES.register("hinge")
def hinge(cfg: LossConfig) -> Formulation:
    """Hinge: relu(1 - l_real) + relu(1 + l_fake) for D, -mean(l_fake) for G."""
    return Formulation("hinge", hinge_d_loss, wasserstein_g_loss, False, 0.0)
