"""One registry per extension point: conf/, validation, docs and errors all read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganlab.config import EarlyStopConfig, LossConfig
from ganlab.core.errors import ConfigError
from ganlab.core.paths import CONF_DIR
from ganlab.launch.docs import main as docs_main
from ganlab.registry import ALL, LOSSES, MODELS, RULES, Registry


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
    with pytest.raises(ConfigError, match="early_stop.rule='magic' is not valid; choose one of"):
        EarlyStopConfig(rule="magic")


def test_a_new_entry_is_accepted_by_validation_at_once() -> None:
    """Registering a rule is all it takes for `early_stop.rule` to accept it."""
    from ganlab.rules.rule import register_rule
    from ganlab.rules.timeline import Timeline

    assert "always_fine" not in RULES
    register_rule("always_fine", keys=())(lambda history, cfg: Timeline())
    try:
        assert EarlyStopConfig(rule="always_fine").rule == "always_fine"
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
