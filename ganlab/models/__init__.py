"""Generator and discriminator networks: MLPs for 2-D data, DCGAN for images."""

from __future__ import annotations

from torch import nn

from ganlab.config import ModelConfig
from ganlab.data import Data, ImageData
from ganlab.errors import ConfigError
from ganlab.models.dcgan import build_dcgan_pair
from ganlab.models.mlp import build_mlp_pair


def build_models(cfg: ModelConfig, data: Data) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for `data`; the model must suit the data."""
    if isinstance(data, ImageData):
        if cfg.name != "dcgan":
            raise ConfigError(
                f"model={cfg.name} cannot generate images; "
                f"use model=dcgan with dataset={data.name}."
            )
        shape = data.shape
        if shape[1] not in (28, 32) or shape[1] != shape[2]:
            raise ConfigError(f"model=dcgan supports 28x28 and 32x32 images, got {shape[1:]}.")
        return build_dcgan_pair(cfg, shape)
    if cfg.name != "mlp":
        raise ConfigError(f"model={cfg.name} is for images; use model=mlp with 2-D mixtures.")
    return build_mlp_pair(cfg, data.dim)


__all__ = ["build_models", "build_mlp_pair", "build_dcgan_pair"]
