"""MM-nsat (the MM-nsat paper and its code, awweide/mm-nsat): MM's per-sample weighting,
rescaled so the batch-summed gradient equals NS-GAN's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation, logistic_d_loss, non_saturating_g_loss
from ganlab.registry import LOSSES


def mm_nsat_g_loss(l_fake: Tensor, a: float = 1.0, eps: float = 1e-18) -> Tensor:
    """MM-nsat: MM's per-sample weights rescaled by sg((1 - pbar + eps) / (pbar + eps)).

    With a = 1 the batch-summed gradient equals NS-GAN's, -(1 - pbar), while each sample
    keeps MM's weighting by p (higher-scoring samples get more weight).
    """
    pbar = torch.sigmoid(l_fake).mean().detach()
    ratio = (1 - pbar + eps) / (pbar + eps)
    mm_term = ratio * (-F.softplus(l_fake)).mean()
    if a == 1.0:
        return mm_term
    return a * mm_term + (1 - a) * non_saturating_g_loss(l_fake)


@LOSSES.register("mm_nsat")
def mm_nsat(cfg: LossConfig) -> Formulation:
    """MM-nsat: MM's weighting with NS-GAN's batch gradient (`loss.a`, `loss.eps`)."""
    a, eps = cfg.a, cfg.eps
    return Formulation(
        "mm_nsat", logistic_d_loss, lambda l_fake: mm_nsat_g_loss(l_fake, a, eps), logistic=True
    )
