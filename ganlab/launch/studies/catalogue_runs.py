"""Training the collapse benchmark's catalogue runs: what a trajectory set lacks, as
`ganlab-train -m` sweeps (one per family and set of missing seeds) nested under the
benchmark's parent run, each sweep's runs added to the set as soon as it ends, so an
interrupted benchmark trains only what it still lacks. `ganlab-benchmark collapse` and
its rewind study (ganlab.launch.studies.rewind_study) both train through here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ganlab.core.errors import GanlabError
from ganlab.core.paths import project_root
from ganlab.core.version import __version__
from ganlab.study.catalogue import BENCHMARK_ROLE, ROLE_TAG, Catalogue, Job
from ganlab.study.digits import PREPARERS
from ganlab.study.trajectories import export, read_or_empty, repository_commit
from ganlab.tracking import RunTracker, check_tracking, resolve_tracking_uri


def train_missing(
    catalogue: Catalogue,
    path: Path,
    args: argparse.Namespace,
    experiment: str,
    out: Path,
    wanted: set[str] | None = None,
    extra: Sequence[str] = (),
) -> RunTracker:
    """Train every catalogue run the trajectory set lacks (of `wanted`, when given), one
    sweep per family and set of missing seeds, with `extra` overrides; add each sweep's
    runs to the set as it ends. The benchmark's parent run."""
    uri = resolve_tracking_uri(args.tracking_uri, project_root())
    check_tracking(uri, False, 5.0)
    parent = RunTracker.find(uri, experiment, {ROLE_TAG: BENCHMARK_ROLE}) or RunTracker.start(
        uri,
        experiment,
        "collapse-benchmark" + ("-quick" if args.quick else ""),
        {ROLE_TAG: BENCHMARK_ROLE, "ganlab.version": __version__},
    )
    # runs a previous call trained but could not add (it was stopped): add them first
    added = export(uri, experiment, catalogue, path, commit=repository_commit())
    if added:
        print(f"ganlab-benchmark: added {added} stored runs to {path}", flush=True)
    have = {t.run for t in read_or_empty(path)}
    todo = [
        job
        for job in catalogue.jobs()
        if job.name not in have and (wanted is None or job.name in wanted)
    ]
    if not todo:
        return parent
    print(
        f"ganlab-benchmark: {len(todo)} runs to train ({len(have)} in {path}) into {uri}, "
        f"experiment '{experiment}'",
        flush=True,
    )
    data_root = out / "data"
    for prepare in sorted({job.prepare for job in todo if job.prepare}):
        if prepare not in PREPARERS:
            raise GanlabError(
                f"unknown prepare step '{prepare}'; choose one of: {', '.join(PREPARERS)}."
            )
        print(f"ganlab-benchmark: prepared {PREPARERS[prepare](data_root)}", flush=True)
    started = time.perf_counter()
    sweeps = plan_sweeps(todo)
    for number, (group, scenarios, seeds) in enumerate(sweeps, 1):
        command = sweep_command(
            group, scenarios, seeds, uri, experiment, parent.run_id, data_root, out, args
        )
        command += list(extra)
        print(
            f"ganlab-benchmark: sweep {number}/{len(sweeps)}: {group} "
            f"{','.join(scenarios)} x seeds {','.join(map(str, seeds))}",
            flush=True,
        )
        subprocess.run(command, check=False)  # failed jobs are FAILED runs: scored as such
        added = export(uri, experiment, catalogue, path, commit=repository_commit())
        elapsed = (time.perf_counter() - started) / 60
        print(
            f"ganlab-benchmark: added {added} runs to {path} ({elapsed:.1f} min so far)",
            flush=True,
        )
    return parent


def plan_sweeps(todo: Sequence[Job]) -> list[tuple[str, list[str], list[int]]]:
    """(config group, scenarios, seeds) per sweep: a family's scenarios that miss the same
    seeds share one sweep (a Hydra sweep is a product of its values)."""
    missing: dict[tuple[str, str], list[int]] = {}
    for job in todo:
        missing.setdefault((job.group, job.scenario), []).append(job.seed)
    sweeps: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for (group, scenario), seeds in missing.items():
        sweeps.setdefault((group, tuple(sorted(seeds))), []).append(scenario)
    return [(group, scenarios, list(seeds)) for (group, seeds), scenarios in sweeps.items()]


def sweep_command(
    group: str,
    scenarios: Sequence[str],
    seeds: Sequence[int],
    uri: str,
    experiment: str,
    parent_run_id: str,
    data_root: Path,
    out: Path,
    args: argparse.Namespace,
) -> list[str]:
    """`ganlab-train -m` training these scenarios at these seeds into the benchmark's store;
    joblib with --jobs workers unless the overrides choose a launcher."""
    launcher = (
        []
        if any(o.startswith("hydra/launcher=") for o in args.overrides)
        else [
            "hydra/launcher=joblib",
            f"hydra.launcher.n_jobs={args.jobs}",
        ]
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return [
        sys.executable,
        "-m",
        "ganlab",
        "-m",
        f"+{group}={','.join(scenarios)}",
        f"seed={','.join(map(str, seeds))}",
        f"tracking.uri={uri}",
        f"tracking.experiment={experiment}",
        f"tracking.parent_run_id={parent_run_id}",
        f"paths.data_root={data_root}",
        "trainer.progress=none",
        f"hydra.sweep.dir={out / 'sweeps' / (group.replace('/', '-') + '-' + stamp)}",
        *launcher,
        *args.overrides,
    ]
