"""Composing ganlab's config outside a Hydra app: what a library caller, `ganlab-prepare`,
the studies and `ganlab.Watch` use to get exactly the config `ganlab-train` would."""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from ganlab.config import register
from ganlab.core.paths import CONF_DIR


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """ganlab/conf/config.yaml composed with `overrides`, outside a Hydra app (whose job folder
    would give paths.output_dir; without one it is "." unless an override sets it)."""
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    GlobalHydra.instance().clear()
    if not any(o.startswith("paths.output_dir=") for o in overrides):
        cfg.paths.output_dir = "."
    return cfg
