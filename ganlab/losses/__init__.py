"""Loss formulations: one module per formulation, each registered in LOSSES
(ganlab.registry) under the name of its `ganlab/conf/loss/<name>.yaml`. A new loss is one
module here with an `@LOSSES.register("name")` factory `LossConfig -> Formulation`, plus
its YAML file; validation, docs and the parametrised tests find it by the registry.
"""

from __future__ import annotations

from ganlab.config import LossConfig
from ganlab.losses.base import Formulation
from ganlab.losses.stabilisers import (
    clip_weights,
    gradient_norm_penalty,
    gradient_penalty,
    instance_noise_sigma,
)
from ganlab.registry import LOSSES


def build_formulation(cfg: LossConfig) -> Formulation:
    """The formulation named by `cfg.name`, with its options (e.g. MM-nsat's `a`)."""
    formulation = LOSSES.get(cfg.name)(cfg)
    if not isinstance(formulation, Formulation):  # a plugin's factory, checked once
        raise TypeError(f"loss '{cfg.name}' must build a ganlab.losses.base.Formulation")
    return formulation


__all__ = [
    "Formulation",
    "build_formulation",
    "clip_weights",
    "gradient_norm_penalty",
    "gradient_penalty",
    "instance_noise_sigma",
]
