"""How a rule joins RULES: `@register_rule("name", keys=...)` on a function
`(history, EarlyStopConfig) -> Timeline`. `keys` are the metrics it reads (a key ending
in "/" stands for every key it begins): the online stopper keeps exactly those in its
checkpointed history, so a resumed run decides as an uninterrupted one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ganlab.registry import RULES

RuleFunction = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Rule:
    name: str
    apply: RuleFunction
    keys: tuple[str, ...]


def register_rule(name: str, keys: Sequence[str]) -> Callable[[RuleFunction], RuleFunction]:
    def decorate(fn: RuleFunction) -> RuleFunction:
        doc = (fn.__doc__ or "").strip().split("\n\n")[0] or "(undocumented)"
        RULES.add(name, Rule(name, fn, tuple(keys)), doc)
        return fn

    return decorate
