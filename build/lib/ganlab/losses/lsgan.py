"""Least-squares GAN on raw outputs: D to targets 1 (real) and 0 (fake), G to 1."""

from __future__ import annotations

from torch import Tensor

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation
from ganlab.registry import LOSSES


def least_squares_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    return 0.5 * ((l_real - 1) ** 2).mean() + 0.5 * (l_fake**2).mean()


def least_squares_g_loss(l_fake: Tensor) -> Tensor:
    return 0.5 * ((l_fake - 1) ** 2).mean()


@LOSSES.register("lsgan")
def lsgan(cfg: LossConfig) -> Formulation:
    """LSGAN: 0.5((l_real - 1)^2 + l_fake^2) for D, 0.5(l_fake - 1)^2 for G."""
    return Formulation("lsgan", least_squares_d_loss, least_squares_g_loss, False, 0.5)
