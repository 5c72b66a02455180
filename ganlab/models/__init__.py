"""Generator and discriminator networks: one module per model, each registered in MODELS
(ganlab.registry) under the name of its `ganlab/conf/model/<name>.yaml`; which data a model
suits is checked with the rest of the config (ganlab.config.checks)."""

from __future__ import annotations

from torch import nn

from ganlab.config import ModelConfig
from ganlab.data import Data
from ganlab.registry import MODELS


def build_models(cfg: ModelConfig, data: Data) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of the model named by `cfg.name`, sized for `data`."""
    return MODELS.get(cfg.name).build(cfg, data)


__all__ = ["build_models"]
