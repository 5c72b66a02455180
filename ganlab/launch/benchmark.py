"""`ganlab-benchmark collapse`: train the catalogue, label every run, score every rule.

    ganlab-benchmark collapse                 # the full catalogue (~1 h on 2 CPU cores)
    ganlab-benchmark collapse --quick         # one seed of 3 scenarios (~3 min): CI
    ganlab-benchmark collapse --score-only    # re-score the stored runs, train nothing
    ganlab-benchmark collapse --jobs 4 --tracking-uri http://127.0.0.1:5000

Steps: (1) train every catalogue run not yet in the store (an interrupted benchmark
continues where it stopped), each with the rule only recording; (2) label every run
from its own quality history (ganlab.study.labels); (3) tune each rule family's
settings on the tuning split and score the chosen setting, the shipped default and the
baselines on the held-out split (ganlab.study.scoring); (4) write tables and figures to
--out and log them to the benchmark's parent MLflow run. docs/collapse.md explains the
labels, the split and every column.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ganlab.core.errors import GanlabError
from ganlab.core.paths import project_root
from ganlab.core.version import __version__
from ganlab.study.catalogue import (
    BENCHMARK_ROLE,
    CATALOGUE_FILE,
    ROLE_TAG,
    SEED_TAG,
    WorkerSetup,
    default_workers,
    load_catalogue,
    run_catalogue,
)
from ganlab.tracking import RunTracker, check_tracking, load_runs, resolve_tracking_uri


def _parent_run(uri: str, experiment: str, quick: bool) -> RunTracker:
    """The benchmark's parent run in `experiment`: the existing one, or a new one."""
    client = RunTracker.connect(uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        parents = client.search_runs(
            [found.experiment_id], f"tags.`{ROLE_TAG}` = '{BENCHMARK_ROLE}'", max_results=1
        )
        if parents:
            return RunTracker(client, parents[0].info.run_id, uri=uri)
    return RunTracker.start(
        uri,
        experiment,
        "collapse-benchmark" + ("-quick" if quick else ""),
        {ROLE_TAG: BENCHMARK_ROLE, "ganlab.version": __version__},
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganlab-benchmark",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("benchmark", choices=["collapse"], help="which benchmark")
    parser.add_argument("--quick", action="store_true", help="the small CI catalogue")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE_FILE, help="YAML catalogue")
    parser.add_argument("--tracking-uri", help="default: as ganlab-train resolves it")
    parser.add_argument(
        "--experiment", help="MLflow experiment (default: collapse_benchmark[_quick])"
    )
    parser.add_argument("--jobs", type=int, default=default_workers(), help="parallel runs")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmark_<name>/)")
    parser.add_argument("--score-only", action="store_true", help="train nothing, only score")
    parser.add_argument(
        "--runs-dir", type=Path, help="where runs write checkpoints (default: <out>/runs)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        print("ganlab-benchmark: error: --jobs must be >= 1.", file=sys.stderr)
        return 2
    experiment = args.experiment or (
        "collapse_benchmark_quick" if args.quick else "collapse_benchmark"
    )
    out = args.out or Path(f"benchmark_{experiment}")
    try:
        catalogue = load_catalogue(args.catalogue, quick=args.quick)
        uri = resolve_tracking_uri(args.tracking_uri, project_root())
        check_tracking(uri, False, 5.0)
        parent = _parent_run(uri, experiment, args.quick)
        stored = load_runs(uri, experiment, include_running=False)
        complete = {run.name for run in stored if SEED_TAG in run.tags}
        todo = [job for job in catalogue.jobs() if job.name not in complete]
        if not args.score_only and todo:
            print(
                f"ganlab-benchmark: {len(todo)} runs to train ({len(complete)} already stored) "
                f"in {uri}, experiment '{experiment}', {args.jobs} at a time"
            )
            runs_dir = (args.runs_dir or out / "runs").resolve()
            setup = WorkerSetup(
                uri,
                experiment,
                parent.run_id,
                str(runs_dir),
                str(runs_dir.parent / "data"),
                threads=max(1, (os.cpu_count() or 1) // args.jobs),
            )
            run_catalogue(todo, setup, args.jobs)
            stored = load_runs(uri, experiment, include_running=False)
        from ganlab.study.report import write_report

        runs = [run for run in stored if SEED_TAG in run.tags]
        text = write_report(runs, catalogue, out, parent)
    except GanlabError as exc:
        print(f"ganlab-benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"\nwritten to {out}/ and logged to run {parent.run_id} (experiment '{experiment}')")
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
