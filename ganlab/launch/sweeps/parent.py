"""Sweeps: one MLflow parent run per `ganlab-train -m`, each job a child run of it.

Hydra calls `SweepCallback.on_multirun_start` in the launching process before any job
starts. It creates the tracking store, the experiment and the parent run once (a fresh
SQLite store fails when several jobs create its schema at the same moment) and writes
`ganlab_sweep.json` into the sweep folder, where every job finds the parent run id:
jobs in this process, in joblib workers, or on SLURM nodes that share the folder.

When the sweep ends the parent gets a summary: how many jobs finished or failed, the
comparison table and figure of `ganlab-compare`, and for failed jobs their overrides and
the one command that re-runs just those (`ganlab-rerun <parent run id>`). Hydra skips
`on_multirun_end` when a job failed, so `ganlab-train` also finalises the sweep itself.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ganlab.core import collection
from ganlab.core.errors import GanlabError
from ganlab.core.paths import project_root
from ganlab.core.secrets import clean_command_line
from ganlab.core.version import __version__
from ganlab.launch.sweeps.job_command import child_command
from ganlab.training.launch_info import JOB_ENV, SWEEP_FILE, SweepInfo

if TYPE_CHECKING:
    from ganlab.tracking import StoredRun

log = logging.getLogger("ganlab")

_active: SweepInfo | None = None  # the sweep this process launched, until finalised
_report: SweepReport | None = None  # its summary, once finalised


class SweepCallback(Callback):
    """Registered in ganlab/conf/config.yaml under hydra.callbacks."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from ganlab.tracking import RunTracker, check_tracking, resolve_tracking_uri

        global _active
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        uri = resolve_tracking_uri(config.tracking.uri, str(config.paths.root))
        check_tracking(
            uri, bool(config.tracking.require_server), float(config.tracking.check_timeout)
        )
        overrides = " ".join(str(o) for o in config.hydra.overrides.task)
        tracker = RunTracker.start(
            uri,
            str(config.tracking.experiment),
            f"sweep-{sweep_dir.parent.name}-{sweep_dir.name}",
            {
                "ganlab.role": "sweep",
                "ganlab.sweep_dir": str(sweep_dir),
                "ganlab.sweep_overrides": overrides,
                "ganlab.version": __version__,
                # a sweep launched for a larger study (the collapse benchmark) nests in it
                **(
                    {"mlflow.parentRunId": str(config.tracking.parent_run_id)}
                    if config.tracking.get("parent_run_id")
                    else {}
                ),
            },
        )
        _active = SweepInfo(tracker.run_id, uri, str(config.tracking.experiment), str(sweep_dir))
        _active.save()
        if "SlurmLauncher" in str(config.hydra.launcher.get("_target_", "")):
            from ganlab.launch.sweeps.slurm import install_queue_watcher

            install_queue_watcher()  # job states without sacct where accounting is off
        log.info(
            "sweep parent run %s in %s (experiment '%s')",
            tracker.run_id,
            uri,
            config.tracking.experiment,
        )
        collection.resume()  # the launcher's start-up is over: ganlab.core.collection

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        finalize_active()


def finalize_active() -> SweepReport | None:
    """Finalise the sweep this process launched (once); return its report, if any."""
    global _active, _report
    if _active is not None:
        info, _active = _active, None
        _report = finalize(info)
    return _report


def job_dirs(sweep_dir: Path) -> dict[int, Path]:
    """Hydra's numbered job folders of a sweep."""
    if not sweep_dir.is_dir():
        return {}
    return {int(p.name): p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()}


def job_overrides(job_dir: Path) -> list[str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    return [str(o) for o in OmegaConf.load(path)] if path.is_file() else []


@dataclass
class SweepReport:
    runs: list[StoredRun]
    failed: list[StoredRun]  # ended FAILED or KILLED, or still RUNNING: the process died
    missing: list[int]  # job numbers that never created a run
    text: str = ""  # the summary shown to the user

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing


def children(info: SweepInfo) -> list[StoredRun]:
    from ganlab.tracking import load_runs

    query = f"tags.`mlflow.parentRunId` = '{info.parent_run_id}'"
    return load_runs(info.tracking_uri, info.experiment, query, include_running=True)


def report(info: SweepInfo) -> SweepReport:
    """Each job's latest run (a re-run supersedes the failed attempt it replaces)."""
    latest: dict[str, StoredRun] = {}
    for run in children(info):  # oldest first
        latest[run.tags.get("ganlab.job", run.run_id)] = run
    runs = list(latest.values())
    failed = [r for r in runs if r.status != "FINISHED"]
    missing = sorted(n for n in job_dirs(Path(info.sweep_dir)) if str(n) not in latest)
    return SweepReport(runs, failed, missing)


def finalize(info: SweepInfo) -> SweepReport:
    """Log the sweep's summary to its parent run, print it, and close the parent."""
    from ganlab.study.compare import write_comparison
    from ganlab.tracking import RunTracker

    result = report(info)
    tracker = RunTracker.existing(info.tracking_uri, info.parent_run_id)
    out = Path(info.sweep_dir) / "summary"
    if result.runs:
        try:
            write_comparison(result.runs, out, tracker=tracker, per_run_figures=False)
        except Exception as exc:  # noqa: BLE001 - the sweep's own status matters more
            log.warning(
                "the sweep's comparison could not be written (%s); its summary and "
                "status are recorded all the same",
                exc,
            )
    failed_jobs = [
        f"#{r.tags.get('ganlab.job', '?')} {r.tags.get('ganlab.overrides') or r.name} "
        f"({r.status}): {r.tags.get('ganlab.failure', 'process ended without closing its run')}"
        for r in result.failed
    ]
    failed_jobs += [
        f"#{n}: no run was created (see {Path(info.sweep_dir) / str(n)})" for n in result.missing
    ]
    tracker.set_tags(
        {
            "ganlab.sweep.jobs": len(result.runs) + len(result.missing),
            "ganlab.sweep.finished": len(result.runs) - len(result.failed),
            "ganlab.sweep.failed": len(result.failed) + len(result.missing),
        }
    )
    lines = [
        f"sweep {info.sweep_dir}: {len(result.runs) - len(result.failed)} of "
        f"{len(result.runs) + len(result.missing)} jobs finished "
        f"(parent run {info.parent_run_id}; summary in {out})"
    ]
    if not result.ok:
        lines += [
            "failed jobs:",
            *(f"  {line}" for line in failed_jobs),
            f"re-run only these: ganlab-rerun {info.parent_run_id}",
        ]
    result.text = "\n".join(lines)
    print(result.text, file=sys.stderr, flush=True)
    tracker.end(
        "FINISHED" if result.ok else "FAILED", None if result.ok else "; ".join(failed_jobs)
    )
    return result


# -- ganlab-rerun -------------------------------------------------------------------------


def find_sweep(spec: str, tracking_uri: str | None) -> SweepInfo:
    """A sweep by its folder, or by its parent run id (looked up in the store)."""
    from ganlab.tracking import RunTracker, check_tracking, resolve_tracking_uri

    if Path(spec).is_dir():
        info = SweepInfo.load(spec)
        if info is None:
            raise GanlabError(f"{spec} has no {SWEEP_FILE}; is it a ganlab sweep folder?")
        return info
    uri = resolve_tracking_uri(tracking_uri, project_root())
    check_tracking(uri, False, 5.0)  # a dead server: one line, not a hang
    try:
        tags = RunTracker.existing(uri, spec).tags
    except Exception as exc:  # noqa: BLE001 - any lookup failure means the same to the user
        raise GanlabError(
            f"{spec} is neither a sweep folder nor a run in {uri}; pass the sweep folder "
            "or set --tracking-uri."
        ) from exc
    info = SweepInfo.load(tags.get("ganlab.sweep_dir", ""))
    if info is None:
        raise GanlabError(f"run {spec} is not a ganlab sweep parent run.")
    return info


def trained(checkpoint: Path) -> bool:
    """Whether a checkpoint holds any finished epoch. One written before the first epoch
    has nothing to continue: such a job starts again, so that the fix given on the
    command line (any key) applies."""
    from ganlab.training.checkpoint import load_checkpoint  # torch: only when there is one

    if not checkpoint.is_file():
        return False
    try:
        return int(load_checkpoint(checkpoint)["epoch"]) > 0
    except GanlabError:
        return False  # unreadable: start again rather than fail the re-run


def rerun_commands(
    info: SweepInfo, fresh: bool, extra: Sequence[str]
) -> list[tuple[int, list[str]]]:
    """One ganlab-train command per failed or missing job of the sweep."""
    result = report(info)
    dirs = job_dirs(Path(info.sweep_dir))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    commands = []
    jobs: list[tuple[int, StoredRun | None]] = [
        (int(r.tags.get("ganlab.job", -1)), r) for r in result.failed
    ]
    jobs += [(n, None) for n in result.missing]
    for number, run in sorted(jobs, key=lambda job: job[0]):
        job_dir = dirs.get(number, Path(info.sweep_dir) / str(number))
        checkpoint = Path(run.tags.get("ganlab.checkpoint", "")) if run else None
        if run is not None and not fresh and checkpoint is not None and trained(checkpoint):
            # continue the same child run from its last good checkpoint
            args = [f"trainer.resume={run.run_id}"]
        else:
            args = [*job_overrides(job_dir), f"tracking.parent_run_id={info.parent_run_id}"]
        commands.append((number, child_command([*args, *extra], job_dir / f"rerun-{stamp}")))
    return commands


def rerun_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ganlab-rerun",
        description="Re-run the failed jobs of a sweep: each continues from its last good "
        "checkpoint (or starts again with --fresh), under the same parent run.",
    )
    parser.add_argument("sweep", help="the sweep's parent run id, or its multirun folder")
    parser.add_argument("overrides", nargs="*", help="extra overrides for every re-run job")
    parser.add_argument("--fresh", action="store_true", help="start failed jobs from scratch")
    parser.add_argument("--tracking-uri", help="store of the parent run (default as ganlab-train)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(clean_command_line("ganlab-rerun", argv))
    try:
        info = find_sweep(args.sweep, args.tracking_uri)
        commands = rerun_commands(info, args.fresh, args.overrides)
    except GanlabError as exc:
        print(f"ganlab-rerun: error: {exc}", file=sys.stderr)
        return 2
    if not commands:
        print(f"ganlab-rerun: every job of {info.sweep_dir} finished; nothing to re-run.")
        return 0
    failures = 0
    for number, command in commands:
        print(f"+ job {number}: ganlab-train " + " ".join(command[3:]), flush=True)
        if not args.dry_run:
            # the job keeps its number in the sweep; the store is the sweep's
            env = {**os.environ, "MLFLOW_TRACKING_URI": info.tracking_uri, JOB_ENV: str(number)}
            failures += subprocess.run(command, env=env).returncode != 0
    if not args.dry_run:
        finalize(info)  # refresh the parent's summary and status; prints it
    return 1 if failures else 0


def rerun_cli() -> None:
    sys.exit(rerun_main())
