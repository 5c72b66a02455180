"""`model.*`: generator and discriminator networks."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option
from ganlab.registry import ACTIVATIONS, MODELS, ModelSpec


@dataclass
class NetConfig:
    """One network. MLP: `depth` hidden layers of `width` units. DCGAN: `width` channels
    in the layer nearest the image, doubling away from it (depth follows the resolution).
    ResNet: `width` channels throughout; D has `depth` blocks after its down-sampling."""

    width: int = option(
        128, "MLP: hidden units; DCGAN: channels next to the image; ResNet: channels", ge=1
    )
    depth: int = option(
        2,
        "MLP: hidden layers; ResNet D: residual blocks at the coarsest size (DCGAN, ResNet "
        "G: set by the resolution)",
        ge=1,
    )
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


def model_spec(name: str) -> ModelSpec:
    """The MODELS entry of `name` (a ConfigError naming the choices if there is none)."""
    return MODELS.get(name)


def model_config_class(name: str) -> type[ModelConfig]:
    """The settings of the model `name`: its own ModelConfig subclass, or ModelConfig."""
    if name not in MODELS.names():
        return ModelConfig  # its own check names the choices
    settings: type[ModelConfig] | None = model_spec(name).settings
    return settings or ModelConfig
