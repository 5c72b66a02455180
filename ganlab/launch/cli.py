"""`ganlab-train`: check the command line, then hand it to Hydra.

Hydra reports a mistyped option or value with a multi-line message and, for sweeps, only
when the job that uses it starts. This check composes every value of every override
first, so a bad sweep fails in a second, with one line naming the key and the fix.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

from ganlab.core import collection
from ganlab.core.errors import ConfigError, GanlabError
from ganlab.core.secrets import clean_command_line
from ganlab.launch.app import hydra_main, train_forked  # light: torch comes with training
from ganlab.launch.overrides import check_overrides
from ganlab.launch.sweeps.parent import finalize_active
from ganlab.launch.sweeps.warm import start_job_server

if TYPE_CHECKING:
    from ganlab.config import GanlabConfig


def main() -> None:
    collection.pause()  # until the run is about to train: ganlab.core.collection
    try:
        train_command()
    except SystemExit as exc:
        exit_without_teardown(exc.code)
    exit_without_teardown(0)


def exit_without_teardown(code: int | str | None) -> NoReturn:
    """Exit as Python would, minus tearing down the interpreter's modules.

    With torch, MLflow and matplotlib loaded, that teardown takes 1.5-3 s after the work
    is done (benchmarks/README.md), on every command and at the end of every sweep. What
    an exit must do still happens, in the order CPython's own finalisation does it:
    `threading._shutdown` (hooks such as joblib stopping its workers, then joining the
    other non-daemon threads), the atexit handlers (logging flushes and closes its
    files), and flushing standard output and error.
    """
    import atexit
    import contextlib
    import os
    import threading

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:  # not CPython: let the interpreter exit normally
        sys.exit(code)
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`| head`) or stream: nothing left to keep
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)


def train_command() -> None:
    """`ganlab-train`: check, prepare, run; exits through SystemExit with its code."""

    # a tracking URI's user:password go to the environment before Hydra sees the command
    # line (its files, logs, the run's params and tags keep the URI without them)
    sys.argv[1:] = args = clean_command_line("ganlab-train", sys.argv[1:])
    multirun = any(a in ("-m", "--multirun") for a in args)
    if multirun and _runs_jobs_on_this_host(args):
        start_job_server(train_forked)
    try:
        configs = check_overrides(_overrides(args), multirun)
    except ConfigError as exc:
        print(f"ganlab-train: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if multirun:
        prepare_images(configs)

    sweep = None
    try:
        hydra_main()
    finally:
        # Hydra skips its end-of-sweep hook when a job raised; the summary still matters
        sweep = finalize_active()
    if sweep is not None and not sweep.ok:
        sys.exit(1)


def _runs_jobs_on_this_host(args: list[str]) -> bool:
    """Hydra's basic launcher and joblib run a sweep's jobs on this machine, with this
    process's terminal as their output. (Submitit's jobs run elsewhere, or locally with
    their output in submitit's log files: each job process starts its own warm process.)"""
    launchers = [a.split("=", 1)[1] for a in args if a.startswith("hydra/launcher=")]
    return not launchers or launchers[-1] in ("basic", "joblib")


def _overrides(args: list[str]) -> list[str]:
    return [a for a in args if "=" in a and not a.startswith("-")]


def prepare_images(configs: list[GanlabConfig]) -> None:
    """Before a sweep fans out: make every image dataset its jobs train on ready once
    (download, classifier, FID statistics), not the first job's only, and not in every
    job at the same moment."""
    from ganlab.launch.prepare import prepare  # torch: only for sweeps that train on images

    done: set[str] = set()
    for cfg in configs:
        key = repr((cfg.dataset, cfg.paths.data_root, cfg.monitor.fid, cfg.monitor.classifier))
        if cfg.dataset.kind != "image" or key in done:
            continue
        done.add(key)
        try:
            for line in prepare(cfg):
                print(f"ganlab-train: prepared {line}", file=sys.stderr)
        except GanlabError as exc:
            print(f"ganlab-train: error: {exc}", file=sys.stderr)
            sys.exit(2)
