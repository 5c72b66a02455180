"""How a rule joins RULES: `@register_rule("name", keys=..., config=...)` on a function
`(history, config) -> Timeline`.

`keys` are the metrics it reads (a key ending in "/" stands for every key it begins): the
online stopper keeps exactly those in its checkpointed history, so a resumed run decides
as an uninterrupted one. `config` is the rule's own settings, a dataclass extending
EarlyStopConfig declared beside the rule: `early_stop=<name>` selects it (Hydra's config
group), a run logs only its fields, and the docs list them per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Protocol

from ganlab.config.early_stop import DEFAULT_RULE, EarlyStopConfig
from ganlab.core.errors import ConfigError
from ganlab.registry import RULES


class RuleFunction(Protocol):
    """A stopping rule: a pure function of a run's metric history (ganlab.rules)."""

    def __call__(self, history: Any, cfg: Any) -> Any: ...


@dataclass(frozen=True)
class Rule:
    name: str
    apply: RuleFunction
    keys: tuple[str, ...]
    config: type[EarlyStopConfig]


def register_rule(
    name: str, keys: Sequence[str], config: type[EarlyStopConfig] = EarlyStopConfig
) -> Callable[[RuleFunction], RuleFunction]:
    def decorate(fn: RuleFunction) -> RuleFunction:
        doc = (fn.__doc__ or "").strip().split("\n\n")[0] or "(undocumented)"
        RULES.add(name, Rule(name, fn, tuple(keys), config), doc)
        return fn

    return decorate


def rule_config(rule: str = DEFAULT_RULE, **settings: Any) -> EarlyStopConfig:
    """The settings of `rule` (its own dataclass), with `settings` over its defaults; a
    setting the rule does not have is one sentence naming the rules that do."""
    cls = RULES.get(rule).config
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        owners = [
            entry.name
            for entry in RULES.entries()
            if set(unknown) <= {f.name for f in fields(entry.value.config)}
        ]
        raise ConfigError(
            f"early_stop={rule} has no setting {', '.join(unknown)}"
            + (f"; {' and '.join(owners)} has" if owners else "")
            + "; pick the rule with its group, e.g. early_stop="
            + (owners[0] if owners else rule)
            + "."
        )
    for f in fields(cls):  # nested settings given as dicts (from JSON): their dataclass
        value = settings.get(f.name)
        if isinstance(value, dict) and f.default_factory is not MISSING:
            settings[f.name] = type(f.default_factory())(**value)
    return cls(rule=rule, **settings)
