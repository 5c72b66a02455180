"""One registry of GAN loss formulations and the stabilisers that apply to any of them.

Notation (docs/method.md section 2): `l = D(x)` is the discriminator's raw output, `p =
sigmoid(l)`, `sp = softplus`. Per-sample losses are averaged over the batch. Every
formula is written with softplus rather than log(sigmoid) so it stays finite when D is
certain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.config import InstanceNoiseConfig, LossConfig


@dataclass(frozen=True)
class Formulation:
    """A loss pair. `logistic`: D's output is the logit of P(real), so JSD estimates apply.

    `decision_threshold`: the raw output above which D calls a sample real (0 for logits
    and hinge margins, 0.5 between LSGAN's targets 0 and 1); None for critics (WGAN),
    whose outputs have no fixed offset.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (l_real, l_fake) -> scalar
    g_loss: Callable[[Tensor], Tensor]  # l_fake -> scalar
    logistic: bool
    decision_threshold: float | None = 0.0


def logistic_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    """Binary cross-entropy of D: -log p(real) - log(1 - p(fake))."""
    return F.softplus(-l_real).mean() + F.softplus(l_fake).mean()


def minimax_g_loss(l_fake: Tensor) -> Tensor:
    """Saturating: minimise log(1 - p) = -sp(l). Gradient per sample is -p / N."""
    return -F.softplus(l_fake).mean()


def non_saturating_g_loss(l_fake: Tensor) -> Tensor:
    """Minimise -log p = sp(-l). Gradient per sample is -(1 - p) / N."""
    return F.softplus(-l_fake).mean()


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


def wasserstein_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    return l_fake.mean() - l_real.mean()


def wasserstein_g_loss(l_fake: Tensor) -> Tensor:
    return -l_fake.mean()


def least_squares_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    return 0.5 * ((l_real - 1) ** 2).mean() + 0.5 * (l_fake**2).mean()


def least_squares_g_loss(l_fake: Tensor) -> Tensor:
    return 0.5 * ((l_fake - 1) ** 2).mean()


def hinge_d_loss(l_real: Tensor, l_fake: Tensor) -> Tensor:
    return F.relu(1 - l_real).mean() + F.relu(1 + l_fake).mean()


def build_formulation(cfg: LossConfig) -> Formulation:
    """The formulation named by `cfg.name` (names as in conf/loss/)."""
    if cfg.name == "mm_nsat":
        a, eps = cfg.a, cfg.eps
        return Formulation(
            "mm_nsat", logistic_d_loss, lambda l_fake: mm_nsat_g_loss(l_fake, a, eps), True
        )
    return FORMULATIONS[cfg.name]


FORMULATIONS: dict[str, Formulation] = {
    "mm": Formulation("mm", logistic_d_loss, minimax_g_loss, True),
    "ns": Formulation("ns", logistic_d_loss, non_saturating_g_loss, True),
    "mm_nsat": Formulation("mm_nsat", logistic_d_loss, mm_nsat_g_loss, True),
    "wgan": Formulation("wgan", wasserstein_d_loss, wasserstein_g_loss, False, None),
    # WGAN-GP uses the WGAN losses; its penalty is the `gp_weight` stabiliser (10 by default).
    "wgan_gp": Formulation("wgan_gp", wasserstein_d_loss, wasserstein_g_loss, False, None),
    "lsgan": Formulation("lsgan", least_squares_d_loss, least_squares_g_loss, False, 0.5),
    "hinge": Formulation("hinge", hinge_d_loss, wasserstein_g_loss, False),
}


def gradient_penalty(
    discriminator: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """mean((||grad_x D(x_hat)||_2 - 1)^2) on x_hat = t real + (1 - t) fake, t ~ U(0, 1)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    t = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, clip: float) -> None:
    """WGAN's Lipschitz constraint: clamp every parameter to [-clip, clip]."""
    for param in module.parameters():
        param.clamp_(-clip, clip)


def instance_noise_sigma(cfg: InstanceNoiseConfig, epoch: int) -> float:
    """Noise std during `epoch` (1-based): sigma0, falling linearly to 0 over anneal_epochs."""
    if cfg.sigma0 == 0.0:
        return 0.0
    if cfg.anneal_epochs == 0:
        return cfg.sigma0
    return cfg.sigma0 * max(0.0, 1.0 - (epoch - 1) / cfg.anneal_epochs)
