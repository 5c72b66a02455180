"""Each job of a sweep trains in a process of its own, forked from a warm one.

Hydra's basic launcher runs jobs inside `ganlab-train` and the joblib launcher inside a
pool of worker processes. A job whose process is killed (the out-of-memory killer, a
`kill -9`) would take the whole sweep down with it: the pool's other jobs are terminated
and the rest never start. So the Hydra job only starts a child process that trains the
job as `ganlab-train <the job's overrides> hydra.run.dir=<the job's folder>` would, and
waits for it.

The child is not a new interpreter (seconds of imports before its first step) but a
fork of a warm process that imported everything once (ganlab.launch.sweeps.warm has the details).

The child learns its sweep, job number and thread budget from the environment (see
`ganlab.training.launch_info`). When it dies from a signal, its MLflow run is marked FAILED with the
signal named, and the sweep goes on; `ganlab-rerun` continues it from its last good
checkpoint. A job that finds a checkpoint in its folder (it was requeued after a
preemption) resumes from it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ganlab.core.paths import CHECKPOINT_ARTIFACT
from ganlab.launch.sweeps.job_command import job_args
from ganlab.launch.sweeps.slurm import EndedBySlurm, slurm_job_id, wait_to_be_requeued
from ganlab.launch.sweeps.warm import (
    ChildMain,
    JobRequest,
    fork_job,
    run_on_job_server,
    warm_context,
)
from ganlab.training.launch_info import JOB_ENV, SWEEP_DIR_ENV, THREADS_ENV, ComposedJob, SweepInfo

log = logging.getLogger("ganlab")


def child_environment(info: SweepInfo, job: int, threads: int | None) -> dict[str, str]:
    env = {**os.environ, JOB_ENV: str(job), SWEEP_DIR_ENV: info.sweep_dir}
    if threads:
        env[THREADS_ENV] = str(threads)
    return env


def killed_reason(returncode: int) -> str:
    name = signal.Signals(-returncode).name
    hint = " (the system may have run out of memory)" if name == "SIGKILL" else ""
    return f"the job's process was killed by {name}{hint}"


def mark_killed(info: SweepInfo, job: int, reason: str) -> bool:
    """End the job's still-RUNNING run as FAILED with `reason`; False if there is none."""
    from ganlab.tracking import RunTracker, load_runs  # MLflow: only when a job was killed

    query = f"tags.`mlflow.parentRunId` = '{info.parent_run_id}' and tags.`ganlab.job` = '{job}'"
    running = [
        run
        for run in load_runs(info.tracking_uri, info.experiment, query, include_running=True)
        if run.status == "RUNNING"
    ]
    if not running:
        return False
    tracker = RunTracker.existing(info.tracking_uri, running[-1].run_id)
    tracker.end("FAILED", reason)
    return True


def start_child(request: JobRequest, child_main: ChildMain) -> int:
    """Run `ganlab-train <request.args>` to its end in a process of its own: forked by the
    sweep's job server, else from this process's own warm process (running `child_main`),
    else as a new interpreter (which composes the config from the arguments). Its exit
    code, or -N when killed by signal N."""
    returncode = run_on_job_server(request)
    if returncode is not None:
        return returncode
    context = warm_context()
    if context is None:
        command = [sys.executable, "-m", "ganlab", *request.args]
        return subprocess.run(command, env=request.env).returncode
    return fork_job(context, child_main, request)


STOPPED_BY_SIGNAL = 143  # ganlab-train's exit code after SIGTERM or SIGUSR2 (launch.app)
SIGNAL_GRACE_S = 15.0  # how long a signal SLURM sent the child may take to reach the job


def await_signal(ended: EndedBySlurm, limit_s: float) -> None:
    """Sleep until `ended` notes a signal or `limit_s` passes (submitit's handler may also
    end this process from inside the sleep: that is the requeue)."""
    deadline = time.monotonic() + limit_s
    while ended.signal_name is None and time.monotonic() < deadline:
        time.sleep(0.1)


def run_job(
    info: SweepInfo,
    job: int,
    overrides: list[str],
    job_dir: Path,
    threads: int | None,
    child_main: ChildMain,
    composed: ComposedJob | None = None,
) -> int:
    """Train one sweep job in a child process; return its exit code (< 0: a signal).

    A job whose folder already holds a checkpoint ran before and was stopped: a SLURM
    job preempted or past its time limit and requeued (SIGTERM ended its run KILLED with
    its checkpoint), or restarted by hand. It continues from that checkpoint into the
    same MLflow run instead of starting again.
    """
    checkpoint = job_dir / CHECKPOINT_ARTIFACT
    if checkpoint.is_file():
        log.info("sweep job #%d: %s exists: resuming the job from it", job, checkpoint)
        overrides = [*overrides, f"trainer.resume={job_dir}"]
        composed = None  # the resumed config is the checkpoint's: composed afresh
    env = child_environment(info, job, threads)
    request = JobRequest(job_args(overrides, job_dir), env, os.getcwd(), composed)
    if slurm_job_id() is None or threading.current_thread() is not threading.main_thread():
        returncode = start_child(request, child_main)  # (signals reach only the main thread)
    else:
        with EndedBySlurm() as ended:
            returncode = start_child(request, child_main)
            if returncode == STOPPED_BY_SIGNAL and ended.signal_name is None:
                # SLURM signalled the child first (a time limit's SIGUSR2, a requeue's
                # SIGTERM): the same signal is on its way here, where submitit requeues
                # the job; returning the child's code before it arrives would report a
                # job that is about to run again as failed
                await_signal(ended, SIGNAL_GRACE_S)
        if ended.signal_name is not None:
            # no result for submitit to record: the job runs again once SLURM requeues it
            wait_to_be_requeued(job, ended.signal_name)
    if returncode < 0:
        reason = killed_reason(returncode)
        log.error("sweep job #%d: %s", job, reason)
        if not mark_killed(info, job, reason):
            log.error("sweep job #%d had not created its MLflow run yet", job)
    return returncode
