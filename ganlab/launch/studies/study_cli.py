"""`ganlab-study`: every command that works on stored runs, under one name.

    ganlab-study compare  --sweep <parent run id>            # tables and figures across runs
    ganlab-study replay   --experiment loss_zoo_ring8 tau=1,2 # judge a rule without retraining
    ganlab-study rerun    <parent run id>                     # re-run a sweep's failed jobs
    ganlab-study benchmark collapse --quick                   # the labelled collapse benchmark

Each subcommand takes exactly the arguments of its own command (`ganlab-compare`,
`ganlab-replay`, `ganlab-rerun`, `ganlab-benchmark`), which remain as aliases;
`ganlab-study <subcommand> --help` lists them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _subcommands() -> dict[str, Callable[[Sequence[str] | None], int]]:
    from ganlab.launch.studies.benchmark import main as benchmark
    from ganlab.launch.sweeps.parent import rerun_main as rerun
    from ganlab.study.compare import main as compare
    from ganlab.study.replay import main as replay

    return {"compare": compare, "replay": replay, "rerun": rerun, "benchmark": benchmark}


NAMES = ("compare", "replay", "rerun", "benchmark")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    if args[0] not in NAMES:
        print(
            f"ganlab-study: error: unknown subcommand '{args[0]}'; choose one of: "
            f"{', '.join(NAMES)}.",
            file=sys.stderr,
        )
        return 2
    return _subcommands()[args[0]](args[1:])


def cli() -> None:
    sys.exit(main())
