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
    clip: float | None = option(
        None, "clip D's weights to [-clip, clip] after each D step, for any loss", gt=0
    )
    instance_noise: InstanceNoiseConfig = option(
        doc="instance noise on D's inputs", factory=InstanceNoiseConfig
    )

    def __post_init__(self) -> None:
        check_fields(self, "loss")
