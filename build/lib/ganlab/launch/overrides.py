"""Validate command-line overrides before Hydra launches anything.

Every value of every override (each value of a sweep `loss=ns,mm` too) is composed with
the real config tree and range-checked, so a mistake is reported once, in one sentence,
before any job starts.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override, RangeSweep
from hydra.errors import ConfigCompositionException, HydraException, OverrideParseException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ganlab.config import GanlabConfig, register, validate
from ganlab.config.dataset import foreign_setting, is_dataset_setting
from ganlab.core.errors import ConfigError
from ganlab.core.paths import CONF_DIR

GroupOptions = Callable[[str], list[str]]  # a config group's options, by group name


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _describe_omegaconf(exc: OmegaConfBaseException) -> str:
    key = getattr(exc, "full_key", None) or "?"
    message = _first_line(getattr(exc, "msg", None) or str(exc))
    if "not in" in message or "not in struct" in message:
        listing = "--cfg hydra" if str(key).startswith("hydra") else "--cfg job"
        if str(key).startswith("early_stop."):
            return (
                f"'{key}' is not a setting of the chosen stopping rule: pick the rule with "
                "its group (early_stop=<rule>, e.g. early_stop=gradient early_stop.tau=3); "
                "`ganlab-train early_stop=<rule> --cfg job` lists its settings."
            )
        if str(key).startswith("dataset.") and is_dataset_setting(str(key)):
            return foreign_setting(str(key))
        return (
            f"'{key}' is not a config key; check its spelling "
            f"(`ganlab-train {listing}` lists them all)."
        )
    return f"{key}: {message[0].lower()}{message[1:]}."


def describe_error(exc: Exception) -> str:
    """One sentence for a composition or validation error."""
    if isinstance(exc, ConfigError):
        return str(exc)
    cause = exc.__cause__ if isinstance(exc, ConfigCompositionException) else exc
    if isinstance(cause, OmegaConfBaseException):
        return _describe_omegaconf(cause)
    return _first_line(str(exc))


def override_values(override: Override) -> list[str]:
    """Each concrete `key=value` an override stands for (one per sweep value)."""
    key = override.get_key_element()
    if not override.is_sweep_override():
        return [override.input_line or f"{key}={override.get_value_element_as_str()}"]
    if isinstance(override.value(), ChoiceSweep | RangeSweep):
        return [f"{key}={value}" for value in override.sweep_string_iterator()]
    return []  # glob / interval sweeps are expanded by Hydra's sweepers; not checked here


def _check_group_choice(override: Override, groups: set[str], options: GroupOptions) -> None:
    group = override.key_or_group
    if group not in groups or override.is_delete():
        return
    values = (
        list(override.sweep_string_iterator())
        if isinstance(override.value(), ChoiceSweep)
        else [override.get_value_element_as_str()]
    )
    choices = options(group)
    for value in values:
        if value not in choices and value != "null":
            raise ConfigError(f"unknown {group} '{value}'; valid choices: {', '.join(choices)}.")


def check_output_dir(folder: Path, key: str) -> None:
    """Raise ConfigError unless `folder` exists or can be created by this user."""
    ancestor = folder
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"cannot create the output folder {folder}: {ancestor} is a file; set {key} "
            "to a folder path."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot create the output folder {folder}: {ancestor} is not writable; set {key} "
            "or run from a writable folder."
        )


MAX_COMBINATIONS = 512  # beyond this, each value is checked with the others' first values


def sweep_variants(per_override: list[list[str]]) -> list[list[str]]:
    """The override lists to compose: every combination of a sweep's values (a value can
    be fine alone and wrong with another group's: model=mlp with dataset=mnist), or, for
    a sweep too large to compose in a few seconds, each value once with the others'
    first values."""
    if not per_override:
        return [[]]
    total = 1
    for values in per_override:
        total *= len(values)
    if total <= MAX_COMBINATIONS:
        return [list(combo) for combo in itertools.product(*per_override)]
    base = [values[0] for values in per_override]
    variants = [base]
    for index, values in enumerate(per_override):
        variants += [base[:index] + [v] + base[index + 1 :] for v in values[1:]]
    return variants


def check_overrides(args: list[str], multirun: bool = False) -> list[GanlabConfig]:
    """Raise ConfigError naming the first invalid override in `args`; return the
    validated config of each combination checked (every job of a sweep up to
    MAX_COMBINATIONS)."""
    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except OverrideParseException as exc:
        raise ConfigError(f"cannot parse the overrides: {_first_line(str(exc))}") from exc
    ours = [o for o in overrides if not o.key_or_group.startswith("hydra")]
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        # the options of the groups the command line names: Hydra copies its whole
        # config repository to list one group's (~25 ms), so not every group's
        groups = {g for g in loader.list_groups("") if not g.startswith("hydra")}
        groups.add("hydra/launcher")  # the one Hydra group users pick (joblib, slurm, ...)
        for override in overrides:
            _check_group_choice(override, groups, loader.get_group_options)
        per_override = [values for values in (override_values(o) for o in ours) if values]
        # group choices (hydra/launcher=joblib) as well as values (hydra.launcher.n_jobs=2):
        # a launcher's keys only exist once the launcher is chosen. They are checked with
        # the first variant (every override's first value), composed once with Hydra's
        # own node: each compose costs ~0.35 s of every command's start.
        hydra_overrides = [
            str(o.input_line) for o in overrides if o.key_or_group.startswith("hydra")
        ]
        checked: list[GanlabConfig] = []
        for index, variant in enumerate(sweep_variants(per_override)):
            first = index == 0
            try:
                cfg = compose(
                    "config",
                    overrides=[*variant, *hydra_overrides] if first else variant,
                    return_hydra_config=first,
                )
                if first:
                    hydra_cfg = cfg.hydra
                cfg.paths.output_dir = "."  # resolved by Hydra at launch, not needed here
                checked.append(validate(cfg))
            except (HydraException, OmegaConfBaseException, ConfigError) as exc:
                raise ConfigError(describe_error(exc)) from exc
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        check_output_dir(Path(str(OmegaConf.select(hydra_cfg, key.removeprefix("hydra.")))), key)
    GlobalHydra.instance().clear()
    return checked
