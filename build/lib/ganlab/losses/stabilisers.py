"""Stabilisers that work with any loss formulation, each a config switch:
the gradient penalty (`loss.gp_weight`), the R1/R2 penalties (`loss.r1_weight`,
`loss.r2_weight`, lazily with `loss.reg_interval`), weight clipping (`loss.clip`) and
instance noise (`loss.instance_noise.*`). The trainer applies them around every D step."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab.config import InstanceNoiseConfig


def gradient_penalty(
    discriminator: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """mean((||grad_x D(x_hat)||_2 - 1)^2) on x_hat = t real + (1 - t) fake, t ~ U(0, 1)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    t = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gradient_norm_penalty(discriminator: nn.Module, x: Tensor) -> Tensor:
    """mean over samples of ||grad_x D(x)||_2^2, the core of R1 (x real) and R2 (x fake).

    Mescheder, Geiger & Nowozin 2018, "Which training methods for GANs do actually
    converge?": R1 = gamma/2 E_real ||grad D||^2 penalises D's gradient on the data, which
    makes the Dirac-GAN and simultaneous/alternating gradient descent locally convergent.
    The trainer multiplies by gamma/2 (and by the lazy interval)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


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
