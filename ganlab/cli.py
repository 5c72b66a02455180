"""`ganlab-train`: check the command line, then hand it to Hydra.

Hydra reports a mistyped option or value with a multi-line message and, for sweeps, only
when the job that uses it starts. This check composes every value of every override
first, so a bad sweep fails in a second, with one line naming the key and the fix.
"""

from __future__ import annotations

import sys

from ganlab.errors import ConfigError


def main() -> None:
    problem = check_command_line(sys.argv[1:])
    if problem:
        print(f"ganlab-train: error: {problem}", file=sys.stderr)
        sys.exit(2)
    from ganlab.sweep import finalize_active
    from ganlab.train import hydra_main  # imports torch and mlflow: only once args are fine

    sweep = None
    try:
        hydra_main()
    finally:
        # Hydra skips its end-of-sweep hook when a job raised; the summary still matters
        sweep = finalize_active()
    if sweep is not None and not sweep.ok:
        sys.exit(1)


def check_command_line(args: list[str]) -> str | None:
    """One sentence describing the first invalid override in `args`, or None."""
    from ganlab.overrides import check_overrides

    try:
        multirun = any(a in ("-m", "--multirun") for a in args)
        check_overrides([a for a in args if "=" in a and not a.startswith("-")], multirun)
    except ConfigError as exc:
        return str(exc)
    return None
