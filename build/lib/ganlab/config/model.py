"""`model.*`: generator and discriminator networks."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option
from ganlab.registry import ACTIVATIONS, MODELS


@dataclass
class NetConfig:
    """One network. MLP: `depth` hidden layers of `width` units. DCGAN: `width` channels
    in the layer nearest the image, doubling away from it (depth follows the resolution)."""

    width: int = option(128, "MLP: hidden units; DCGAN: channels next to the image", ge=1)
    depth: int = option(2, "MLP: hidden layers (DCGAN: set by the resolution)", ge=1)
    activation: str = option("relu", "hidden activation", choices=ACTIVATIONS.names)
    spectral_norm: bool = option(False, "spectral normalisation of every linear/conv layer")
    batch_norm: bool = option(False, "DCGAN: batch norm after each hidden conv layer")
    pixel_norm: bool = option(False, "DCGAN G: PGGAN's pixelwise feature normalisation")
    minibatch_std: bool = option(
        False, "DCGAN D: PGGAN's minibatch standard-deviation feature map (groups of 4)"
    )

    def check(self, prefix: str) -> None:
        check_fields(self, prefix)


@dataclass
class ModelConfig:
    name: str = option("mlp", "set by the `model` group", choices=MODELS.names)
    latent_dim: int = option(2, "latent size", ge=1)
    g: NetConfig = option(doc="the generator", factory=NetConfig)
    d: NetConfig = option(
        doc="the discriminator", factory=lambda: NetConfig(activation="leaky_relu")
    )

    def __post_init__(self) -> None:
        check_fields(self, "model")
        self.g.check("model.g")
        self.d.check("model.d")
