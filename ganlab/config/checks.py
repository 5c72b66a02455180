"""Checks across config groups, in one place (each group checks its own fields)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganlab.errors import ConfigError

if TYPE_CHECKING:
    from ganlab.config import GanlabConfig


def check_model_fits_data(cfg: GanlabConfig) -> None:
    """MLPs generate 2-D mixtures, DCGANs images."""
    model, dataset = cfg.model, cfg.dataset
    if dataset.kind == "image" and model.name != "dcgan":
        raise ConfigError(
            f"model={model.name} cannot generate images; use model=dcgan with "
            f"dataset={dataset.name}."
        )
    if dataset.kind == "mixture" and model.name != "mlp":
        raise ConfigError(
            f"model={model.name} is for images; use model=mlp with dataset={dataset.name}."
        )


def check_rule_has_its_monitor(cfg: GanlabConfig) -> None:
    """A rule that reads the duality gap needs the gap evaluated (it is off by default)."""
    if cfg.early_stop.rule == "duality_gap" and cfg.monitor.duality_gap.every_n_epochs == 0:
        raise ConfigError(
            "early_stop.rule=duality_gap reads the duality gap, which is off; set "
            "monitor.duality_gap.every_n_epochs (e.g. 5) or choose another rule."
        )


CROSS_GROUP_CHECKS = (check_model_fits_data, check_rule_has_its_monitor)
