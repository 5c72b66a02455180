"""Minimax (saturating) GAN: G minimises log(1 - p) = -sp(l_fake). Saturates when D wins."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation, logistic_d_loss
from ganlab.registry import LOSSES


def minimax_g_loss(l_fake: Tensor) -> Tensor:
    """Saturating: minimise log(1 - p) = -sp(l). Gradient per sample is -p / N."""
    return -F.softplus(l_fake).mean()


@LOSSES.register("mm")
def minimax(cfg: LossConfig) -> Formulation:
    """Minimax (saturating): D's cross-entropy; G minimises log(1 - p)."""
    return Formulation("mm", logistic_d_loss, minimax_g_loss, logistic=True)
