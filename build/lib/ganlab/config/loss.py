"""`loss.*`: the loss formulation and the stabilisers that apply to any of them."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option
from ganlab.registry import LOSSES


@dataclass
class InstanceNoiseConfig:
    """Gaussian noise added to both inputs of D; sigma anneals linearly to 0."""

    sigma0: float = option(0.0, "std of the noise at epoch 1; 0 = off", ge=0)
    anneal_epochs: int = option(
        10, "sigma falls linearly to 0 at epoch anneal_epochs + 1; 0 = constant sigma0", ge=0
    )

    def __post_init__(self) -> None:
        check_fields(self, "loss.instance_noise")


@dataclass
class LossConfig:
    """A loss formulation plus the stabilisers that apply to any of them."""

    name: str = option("ns", "set by the `loss` group", choices=LOSSES.names)
    a: float = option(1.0, "MM-nsat mixing weight: a MM-nsat + (1 - a) NS", ge=0, le=1)
    eps: float = option(1e-18, "MM-nsat: keeps (1 - pbar + eps)/(pbar + eps) finite", gt=0)
    gp_weight: float = option(
        0.0, "gradient penalty lambda on D, for any loss (10 for `wgan_gp`); 0 = off", ge=0
    )
    r1_weight: float = option(
        0.0,
        "R1 penalty gamma: gamma/2 E||grad_x D(x)||^2 on real samples (Mescheder et al. "
        "2018), any loss; 0 = off",
        ge=0,
    )
    r2_weight: float = option(0.0, "R2 penalty gamma: the same on generated samples; 0 = off", ge=0)
    reg_interval: int = option(
        1,
        "lazy regularisation: R1/R2 on every k-th D step only, weighted by k so the "
        "average strength is unchanged (StyleGAN2 uses 16); 1 = every step",
        ge=1,
    )
    clip: float | None = option(
        None, "clip D's weights to [-clip, clip] after each D step, for any loss", gt=0
    )
    instance_noise: InstanceNoiseConfig = option(
        doc="instance noise on D's inputs", factory=InstanceNoiseConfig
    )

    def __post_init__(self) -> None:
        check_fields(self, "loss")
