"""The config schema: every option ganlab accepts, its type, default, range and meaning.

One module per group of `ganlab/conf/` (trainer, optim, model, loss, dataset, monitor,
early_stop, tracking, paths): each field is declared with `option(default, doc,
constraints)` (ganlab.config.fields), and checks across groups live in
ganlab.config.checks. Hydra merges the YAML files of `ganlab/conf/` onto these dataclasses, so an
unknown key or a wrong type fails while composing; `validate` turns the composed config
into these objects, which checks every declared range and choice and says what is wrong
in one sentence. docs/configuration.md is generated from the same declarations.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from ganlab.config.dataset import (
    VARIANTS,
    DatasetConfig,
    ImageConfig,
    MixtureConfig,
    RingConfig,
    dataset_config_class,
    own_fields,
)
from ganlab.config.early_stop import DEFAULT_RULE, EarlyStopConfig, RewindConfig
from ganlab.config.fields import check_fields, option, schema_defaults
from ganlab.config.loss import InstanceNoiseConfig, LossConfig
from ganlab.config.model import ModelConfig, NetConfig, model_config_class, model_spec
from ganlab.config.monitor import (
    ClassifierMonitorConfig,
    DiscriminatorConfidenceConfig,
    DiscriminatorGradientConfig,
    DualityGapConfig,
    FIDMonitorConfig,
    GridMonitorConfig,
    LayerNormsConfig,
    MonitorConfig,
    PRDCMonitorConfig,
    QualityMonitorConfig,
    ScatterMonitorConfig,
    SignalsConfig,
    SteepnessMonitorConfig,
    added_monitor_settings,
)
from ganlab.config.optim import OptimConfig, OptimizerConfig
from ganlab.config.paths import PathsConfig
from ganlab.config.tracking import TrackingConfig
from ganlab.config.trainer import TrainerConfig
from ganlab.core.errors import ConfigError
from ganlab.core.paths import CONF_DIR, project_root
from ganlab.registry import DATASETS, LOSSES, MODELS, RULES, load_plugins

DEVICES = ("auto", "cpu", "cuda")
GROUPS = {
    "trainer": TrainerConfig,
    "optim": OptimConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "dataset": DatasetConfig,
    "monitor": MonitorConfig,
    "early_stop": EarlyStopConfig,
    "tracking": TrackingConfig,
    "paths": PathsConfig,
}


def rule_config_class(rule: str) -> type[EarlyStopConfig]:
    """The dataclass of a rule's settings, declared beside the rule (RULES)."""
    config: type[EarlyStopConfig] = RULES.get(rule).config
    return config


def default_rule_config() -> EarlyStopConfig:
    return rule_config_class(DEFAULT_RULE)(rule=DEFAULT_RULE)


@dataclass
class GanlabConfig:
    seed: int = option(
        0,
        "one seed for everything; separate random streams are derived from it for "
        "initialisation, training batches and each monitor's fixed evaluation set",
        ge=0,
    )
    device: str = option(
        "auto", "`auto` (CUDA when visible, else CPU), `cpu`, `cuda`", choices=DEVICES
    )
    paths: PathsConfig = option(doc="locations", factory=PathsConfig)
    trainer: TrainerConfig = option(doc="the training loop", factory=TrainerConfig)
    optim: OptimConfig = option(doc="optimisers", factory=OptimConfig)
    model: ModelConfig = option(doc="networks", factory=ModelConfig)
    loss: LossConfig = option(doc="loss and stabilisers", factory=LossConfig)
    dataset: DatasetConfig = option(doc="data", factory=RingConfig)
    monitor: MonitorConfig = option(doc="monitors", factory=MonitorConfig)
    early_stop: EarlyStopConfig = option(doc="stopping rule", factory=default_rule_config)
    tracking: TrackingConfig = option(doc="MLflow", factory=TrackingConfig)

    def __post_init__(self) -> None:
        check_fields(self, "")
        for check in CROSS_GROUP_CHECKS:
            check(self)


# -- checks across groups, in one place (each group checks its own fields) -------------
def check_model_fits_data(cfg: GanlabConfig) -> None:
    """A model generates the kinds of data its MODELS entry declares (MLPs 2-D mixtures,
    DCGANs images, a plugin's what it says)."""
    model, dataset = cfg.model, cfg.dataset
    if dataset.kind in model_spec(model.name).kinds:
        return
    fitting = " or ".join(
        f"model={entry.name}" for entry in MODELS.entries() if dataset.kind in entry.value.kinds
    )
    if dataset.kind == "image":
        raise ConfigError(
            f"model={model.name} cannot generate images; use {fitting} with dataset={dataset.name}."
        )
    raise ConfigError(
        f"model={model.name} is for images; use {fitting} with dataset={dataset.name}."
    )


def check_rule_has_its_monitor(cfg: GanlabConfig) -> None:
    """A rule that reads the duality gap needs the gap evaluated (it is off by default)."""
    if cfg.early_stop.rule == "duality_gap" and cfg.monitor.duality_gap.every_n_epochs == 0:
        raise ConfigError(
            "early_stop=duality_gap reads the duality gap, which is off; set "
            "monitor.duality_gap.every_n_epochs (e.g. 5) or choose another rule."
        )


CROSS_GROUP_CHECKS = (check_model_fits_data, check_rule_has_its_monitor)


def register() -> None:
    """Make the schema, each rule's settings (the `early_stop` group: `early_stop=gradient`),
    the losses plugins add and the `${ganlab_root:}` resolver known to Hydra/OmegaConf."""
    if not OmegaConf.has_resolver("ganlab_root"):
        OmegaConf.register_new_resolver("ganlab_root", project_root)
    if not OmegaConf.has_resolver("ganlab_token"):
        # a random token per process (cached: one value however often it is resolved), so
        # two runs started in the same second get their own output folders
        OmegaConf.register_new_resolver(
            "ganlab_token", lambda: secrets.token_hex(3), use_cache=True
        )
    load_plugins()  # their losses and rules become choices below
    store = ConfigStore.instance()
    with schema_defaults():
        # `early_stop` typed by the settings every rule shares: the group option chosen
        # (ganlab/conf/config.yaml's defaults, or early_stop=<rule>) brings the rule's own
        store.store(
            name="ganlab_schema",
            node=GanlabConfig(early_stop=EarlyStopConfig(), dataset=DatasetConfig()),
        )
        for entry in RULES.entries():
            store.store(
                group="early_stop", name=entry.name, node=entry.value.config(rule=entry.name)
            )
        # each dataset variant's fields: ganlab/conf/dataset/<name>.yaml starts from one of these
        for variant, cls in VARIANTS.items():
            store.store(group="schema/dataset", name=variant, node=cls)
    # what a plugin registered has no YAML preset in ganlab/conf: its group option is made
    # from its registry entry (a model's or dataset's settings dataclass, when it has one)
    for name in LOSSES.registered_without_loading():
        if not (CONF_DIR / "loss" / f"{name}.yaml").is_file():
            node = {"loss": {"name": name}}
            store.store(group="loss", name=name, node=node, package="_global_")
    # (the classes, not instances: checking an instance's choices would import torch)
    with schema_defaults():
        for name in MODELS.registered_without_loading():
            if not (CONF_DIR / "model" / f"{name}.yaml").is_file():
                model_spec_ = MODELS.peek(name)
                model = OmegaConf.structured((model_spec_ and model_spec_.settings) or ModelConfig)
                model.name = name
                store.store(group="model", name=name, node=model)
        for name in DATASETS.registered_without_loading():
            if not (CONF_DIR / "dataset" / f"{name}.yaml").is_file():
                dataset_spec = DATASETS.peek(name)
                data = OmegaConf.structured((dataset_spec and dataset_spec.settings) or ImageConfig)
                data.name, data.kind = name, "image"
                store.store(group="dataset", name=name, node=data)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def validate(cfg: DictConfig | dict[str, Any]) -> GanlabConfig:
    """Resolve and range-check a composed config; raise ConfigError with one sentence.

    The `early_stop` node is checked against the dataclass of the rule it names (its
    `rule`), so a stored config or a checkpoint's validates as it was composed."""
    cfg = OmegaConf.create(cfg) if not isinstance(cfg, DictConfig) else cfg
    user = {k: v for k, v in cfg.items() if k != "hydra"}  # Hydra's own node is not ours
    schema = OmegaConf.structured(GanlabConfig)
    stop = user.get("early_stop")
    rule = str(stop.get("rule", DEFAULT_RULE)) if stop is not None else DEFAULT_RULE
    schema.early_stop = OmegaConf.structured(rule_config_class(rule)(rule=rule))
    model = user.get("model")
    if model is not None and model.get("name") is not None:  # a model's own settings, likewise
        schema.model = OmegaConf.structured(model_config_class(str(model.get("name"))))
    stored = user.get("dataset")
    if stored is not None:  # checked against its variant's dataclass, likewise
        data: dict[str, Any] = dict(OmegaConf.to_container(OmegaConf.create(stored)))  # type: ignore[arg-type]
        schema.dataset = OmegaConf.structured(dataset_config_class(data))
        user["dataset"] = own_fields(data)
    try:
        merged = OmegaConf.merge(schema, user)
    except (ConfigKeyError, ValidationError) as exc:
        if not str(exc.full_key).startswith("early_stop") and exc.full_key:
            raise
        known = {f.name for f in dataclasses.fields(rule_config_class(rule))}
        foreign = sorted(set(stop or {}) - known) or [str(exc.full_key or "?")]
        raise ConfigError(
            f"rule '{rule}' has no setting {', '.join(foreign[:4])}"
            f"{' ...' if len(foreign) > 4 else ''} (another rule's: early_stop.rule=X keeps "
            f"the settings of the rule it replaces); choose the rule with its group instead, "
            f"early_stop={rule}, which brings that rule's own settings."
        ) from exc
    obj = OmegaConf.to_object(merged)
    assert isinstance(obj, GanlabConfig)
    return obj


__all__ = [
    "GROUPS",
    "ClassifierMonitorConfig",
    "DatasetConfig",
    "ImageConfig",
    "MixtureConfig",
    "dataset_config_class",
    "DiscriminatorConfidenceConfig",
    "DiscriminatorGradientConfig",
    "DualityGapConfig",
    "DEFAULT_RULE",
    "EarlyStopConfig",
    "RewindConfig",
    "rule_config_class",
    "FIDMonitorConfig",
    "GanlabConfig",
    "GridMonitorConfig",
    "InstanceNoiseConfig",
    "LossConfig",
    "ModelConfig",
    "LayerNormsConfig",
    "MonitorConfig",
    "PRDCMonitorConfig",
    "NetConfig",
    "OptimConfig",
    "OptimizerConfig",
    "PathsConfig",
    "QualityMonitorConfig",
    "ScatterMonitorConfig",
    "SignalsConfig",
    "SteepnessMonitorConfig",
    "TrackingConfig",
    "TrainerConfig",
    "added_monitor_settings",
    "flatten",
    "register",
    "validate",
]
