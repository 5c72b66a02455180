"""One registry per extension point: conf/, validation, docs and errors all read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganlab.config import LossConfig
from ganlab.core.errors import ConfigError
from ganlab.core.paths import CONF_DIR
from ganlab.launch.docs import main as docs_main
from ganlab.registry import ALL, LOSSES, MODELS, RULES, Registry
from ganlab.rules import rule_config


def conf_options(group: str) -> set[str]:
    return {p.stem for p in (CONF_DIR / group).glob("*.yaml")}


@pytest.mark.parametrize(("group", "registry"), [("loss", LOSSES), ("model", MODELS)])
def test_conf_mirrors_the_registry(group: str, registry: Registry) -> None:
    """Every registered loss and model has its conf/ file, and every file its code."""
    assert conf_options(group) == set(registry.names())


def test_every_registry_is_filled_and_documented() -> None:
    for title, registry in ALL.items():
        entries = list(registry.entries())
        assert entries, title
        for entry in entries:
            assert entry.doc and not entry.doc.startswith(("Rule(", "Entry(")), entry.name


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown loss 'nope'; valid choices: hinge, lsgan"):
        LOSSES.get("nope")
    with pytest.raises(ConfigError, match="unknown stopping rule .magic.; valid choices"):
        rule_config("magic")


def test_a_new_entry_is_accepted_by_validation_at_once() -> None:
    """Registering a rule is all it takes for `early_stop.rule` to accept it."""
    from ganlab.rules.rule import register_rule
    from ganlab.rules.timeline import Timeline

    assert "always_fine" not in RULES
    register_rule("always_fine", keys=())(lambda history, cfg: Timeline())
    try:
        assert rule_config("always_fine").rule == "always_fine"
    finally:
        RULES._entries.pop("always_fine")  # keep the registry as the code defines it


def test_the_generated_reference_pages_are_current() -> None:
    """docs/configuration.md and docs/registries.md are what the code says; after
    changing a field or a registry: python -m ganlab.launch.docs"""
    assert docs_main(["--check"]) == 0


def test_reference_names_every_key_and_every_loss() -> None:
    page = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for key in ("trainer.epochs", "loss.instance_noise.sigma0", "early_stop.shift_up"):
        assert f"`{key}`" in page
    assert "one of: `hinge`, `lsgan`, `mm`" in page  # loss.name's choices, from LOSSES
    assert LossConfig().name in LOSSES


def test_the_configuration_reference_shows_what_ganlab_train_composes() -> None:
    """Every default in docs/configuration.md is the value `ganlab-train --cfg job`
    composes for that key (each rule's section with `early_stop=<rule>`, each dataset
    variant's with the first `dataset=<name>` its heading names): a generator
    that read a dataclass default where a factory or a YAML file sets another value
    would have documented the wrong one (model.d.activation was documented as relu)."""
    import re

    from omegaconf import OmegaConf

    from ganlab.launch.docs import DOCS, composed

    trees = {None: composed()}
    checked = 0
    section = None
    for line in (DOCS / "configuration.md").read_text().splitlines():
        heading = re.match(r"^### `(early_stop=\w+)`|^### `\w+`: `(dataset=\w+)`", line)
        if heading:  # a rule's section, or a dataset variant's (its first file's values)
            section = heading.group(1) or heading.group(2)
            trees.setdefault(section, composed([section]))
            continue
        if line.startswith("## "):
            section = None
        row = re.match(r"^\| `([\w.]+)` \| `([^`]*)` \|", line)
        if row:
            key, shown = row.groups()
            raw = OmegaConf.to_container(OmegaConf.create(trees[section]), resolve=False)
            node = raw
            for part in key.split("."):
                node = node[part]
            expected = (
                "null"
                if node is None
                else str(node).lower()
                if isinstance(node, bool)
                else str(node)
            )
            assert shown == expected, f"{key}: documented {shown}, composed {expected}"
            checked += 1
    assert checked > 150
    assert "`model.d.activation` | `leaky_relu`" in (DOCS / "configuration.md").read_text()


def test_a_monitor_added_by_one_module_reads_checked_settings(make_cfg) -> None:
    """A new monitor is one module: its builder and settings dataclass registered together;
    `monitor.plugins.<name>` is checked against the dataclass before anything runs, the
    builder gets the checked values, and monitor=none switches it off with the rest."""
    from dataclasses import dataclass

    import torch

    from ganlab.config import validate
    from ganlab.config.fields import option
    from ganlab.monitors import build_monitors
    from ganlab.registry import MONITORS, register_monitor
    from ganlab.training.build import build_parts

    @dataclass
    class EchoConfig:
        every_n_epochs: int = option(2, "evaluation interval; 0 = off", ge=0)
        scale: float = option(1.0, "a factor", gt=0)

    class Echo:
        name, makes_figures, measures_samples = "echo", False, False

        def __init__(self, settings: EchoConfig) -> None:
            self.every_n_epochs, self.scale = settings.every_n_epochs, settings.scale

        def __call__(self, state):  # noqa: ANN001
            return {"echo/scale": self.scale}

    register_monitor("echo", settings=EchoConfig)(lambda ctx: Echo(ctx.settings("echo")))
    try:
        cfg = validate(make_cfg("+monitor.plugins.echo.scale=3"))
        parts = build_parts(cfg, torch.device("cpu"))
        suite = build_monitors(cfg, parts, "t")
        (echo,) = [m for m in suite.metric_monitors if m.name == "echo"]
        assert (echo.every_n_epochs, echo.scale) == (2, 3.0)  # defaults, then the override
        with pytest.raises(ConfigError, match=r"monitor.plugins.echo has no setting scal;"):
            validate(make_cfg("+monitor.plugins.echo.scal=3"))
        with pytest.raises(ConfigError, match="echo.scale"):
            validate(make_cfg("+monitor.plugins.echo.scale=-1"))
        with pytest.raises(ConfigError, match="unknown monitor 'ecko'"):
            validate(make_cfg("+monitor.plugins.ecko.scale=1"))
        quiet = validate(make_cfg("monitor=none", "+monitor.plugins.echo.scale=3"))
        assert "echo" not in {m.name for m in build_monitors(quiet, parts, "t").metric_monitors}
    finally:
        MONITORS._entries.pop("echo")
