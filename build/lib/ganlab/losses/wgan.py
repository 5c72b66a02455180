"""WGAN (Arjovsky et al. 2017): a critic, weight clipping to [-0.01, 0.01], 5 critic steps."""

from __future__ import annotations

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation, wasserstein_d_loss, wasserstein_g_loss
from ganlab.registry import LOSSES


@LOSSES.register("wgan")
def wgan(cfg: LossConfig) -> Formulation:
    """WGAN: critic mean(l_fake) - mean(l_real); weight clipping via `loss.clip`."""
    return Formulation("wgan", wasserstein_d_loss, wasserstein_g_loss, False, None)
