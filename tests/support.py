"""What several test modules need, written once."""

from __future__ import annotations

from ganlab.core.errors import ConfigError
from ganlab.launch.cli import _overrides
from ganlab.launch.overrides import check_overrides


def check_command_line(args: list[str]) -> str | None:
    """The one sentence `ganlab-train args` would refuse them with, or None: the check
    ganlab-train makes before Hydra starts."""
    try:
        check_overrides(_overrides(args), any(a in ("-m", "--multirun") for a in args))
    except ConfigError as exc:
        return str(exc)
    return None
