"""Non-saturating GAN: G minimises -log p = sp(-l_fake)."""

from __future__ import annotations

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation, logistic_d_loss, non_saturating_g_loss
from ganlab.registry import LOSSES


@LOSSES.register("ns")
def non_saturating(cfg: LossConfig) -> Formulation:
    """Non-saturating: D's cross-entropy; G minimises -log p."""
    return Formulation("ns", logistic_d_loss, non_saturating_g_loss, logistic=True)
