"""Declared constraints: each config field states its range or choices next to its
default and its documentation, and one checker reads them all.

    epochs: int = option(40, "number of epochs", ge=1)

`option` puts the constraint into the field's metadata; `check_fields` checks every
such field of a config object and raises ConfigError with one sentence naming the key
(`trainer.epochs must be >= 1, got 0.`). The reference tables of docs/configuration.md
are generated from the same metadata (ganlab.launch.docs), so documentation, validation and
defaults cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ganlab.core.errors import ConfigError

Choices = Sequence[str] | Callable[[], Sequence[str]]


def option(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    factory: Callable[[], Any] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Choices | None = None,
) -> Any:
    """A dataclass field with its documentation and constraints.

    `choices` may be a callable returning the names (a registry's), evaluated when
    checked, so a new loss or rule needs no edit here. None always passes when the
    default is None (an optional setting).
    """
    metadata = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def choices_of(f: dataclasses.Field) -> tuple[str, ...] | None:
    choices = f.metadata.get("choices")
    if choices is None:
        return None
    return tuple(choices() if callable(choices) else choices)


_registry_checks = True  # off only while the schema's own defaults are stored


@contextmanager
def schema_defaults() -> Iterator[None]:
    """While the schema's defaults are built (to store them with Hydra), skip the choices
    that come from a registry: listing a registry imports its package, i.e. torch, which a
    process that only launches sweep jobs never needs. The defaults are valid by
    construction, and every composed config is checked in full by `validate`."""
    global _registry_checks
    _registry_checks = False
    try:
        yield
    finally:
        _registry_checks = True


def _bound(value: float) -> str:
    return f"{value:g}"


def describe_range(f: dataclasses.Field) -> str:
    """The constraint in words for docs: '>= 1', 'in (0, 1]', 'one of: a, b'."""
    m = f.metadata
    choices = choices_of(f)
    if choices is not None:
        return "one of: " + ", ".join(f"`{c}`" for c in choices)
    low = ("[", m["ge"]) if m.get("ge") is not None else None
    low = ("(", m["gt"]) if low is None and m.get("gt") is not None else low
    high = ("]", m["le"]) if m.get("le") is not None else None
    high = (")", m["lt"]) if high is None and m.get("lt") is not None else high
    if low and high:
        return f"in {low[0]}{_bound(low[1])}, {_bound(high[1])}{high[0]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {_bound(low[1])}"
    if high:
        return f"{'<=' if high[0] == ']' else '<'} {_bound(high[1])}"
    return ""


def check_value(key: str, value: Any, f: dataclasses.Field) -> None:
    """Raise ConfigError if `value` breaks `f`'s declared constraint."""
    m = f.metadata
    if value is None and f.default is None:
        return
    registry_backed = callable(f.metadata.get("choices"))
    choices = choices_of(f) if _registry_checks or not registry_backed else None
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}={value!r} is not valid; choose one of: {', '.join(choices)}.")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    if not math.isfinite(value):  # inf passes every bound; nan fails none of them
        raise ConfigError(f"{key} must be a finite number, got {value}.")
    ge, gt, le, lt = m.get("ge"), m.get("gt"), m.get("le"), m.get("lt")
    ok = (
        (ge is None or value >= ge)
        and (gt is None or value > gt)
        and (le is None or value <= le)
        and (lt is None or value < lt)
    )
    if ok:
        return
    nullable = " or null" if f.default is None else ""
    raise ConfigError(f"{key} must be {describe_range(f)}{nullable}, got {value}.")


def check_fields(obj: Any, prefix: str) -> None:
    """Check every constrained leaf field of the config object `obj` (at `prefix`)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            continue  # nested groups check themselves
        check_value(f"{prefix}.{f.name}" if prefix else f.name, value, f)


def require(ok: bool, message: str) -> None:
    """For the checks no declaration can express (a square grid, two betas)."""
    if not ok:
        raise ConfigError(message)
