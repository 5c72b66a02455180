"""WGAN-GP (Gulrajani et al. 2017): the WGAN losses; the penalty is the `gp_weight`
stabiliser (10 in ganlab/conf/loss/wgan_gp.yaml), which works with any loss."""

from __future__ import annotations

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation, wasserstein_d_loss, wasserstein_g_loss
from ganlab.registry import LOSSES


@LOSSES.register("wgan_gp")
def wgan_gp(cfg: LossConfig) -> Formulation:
    """WGAN-GP: WGAN's critic loss plus a gradient penalty (`loss.gp_weight`)."""
    return Formulation("wgan_gp", wasserstein_d_loss, wasserstein_g_loss, False, None)
