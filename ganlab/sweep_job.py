"""Each job of a sweep trains in a process of its own, forked from a warm one.

Hydra's basic launcher runs jobs inside `ganlab-train` and the joblib launcher inside a
pool of worker processes. A job whose process is killed (the out-of-memory killer, a
`kill -9`) would take the whole sweep down with it: the pool's other jobs are terminated
and the rest never start. So the Hydra job only starts a child process that trains the
job as `ganlab-train <the job's overrides> hydra.run.dir=<the job's folder>` would, and
waits for it.

Starting that child as a new interpreter costs seconds before its first step (importing
torch, torch's compiler stubs that every optimizer pulls in, MLflow's SQL store,
matplotlib; registering the configs), which on the mixtures is as long as the training
of a short run. So children are forked from a *warm* process instead: multiprocessing's
forkserver, which imports those modules once per launcher process and then forks one
fresh, single-threaded child per job. Each child still has its own address space, so a
job that crashes or is killed fails alone, exactly as a separate interpreter would.
Where forkserver does not exist (Windows), or with GANLAB_SWEEP_FORK=0, each job starts
a new interpreter as before.

The child learns its sweep, job number and thread budget from the environment (see
`ganlab.launch`). When it dies from a signal, its MLflow run is marked FAILED with the
signal named, and the sweep goes on; `ganlab-rerun` continues it from its last good
checkpoint. A job that finds a checkpoint in its folder (it was requeued after a
preemption) resumes from it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
from multiprocessing.context import BaseContext
from pathlib import Path

from ganlab.resume import CHECKPOINT_ARTIFACT
from ganlab.sweep import JOB_ENV, SWEEP_DIR_ENV, THREADS_ENV, SweepInfo, child_command
from ganlab.tracking import RunTracker, load_runs

log = logging.getLogger("ganlab")

FORK_ENV = "GANLAB_SWEEP_FORK"  # "0": every job starts a new interpreter
# What a job imports before its first step; the warm process imports it once.
WARM_MODULES = [
    "ganlab.cli",
    "ganlab.train",
    "ganlab.run",
    "ganlab.loop",
    "ganlab.losses",
    "ganlab.models",
    "ganlab.monitors",
    "ganlab.rules",
    "ganlab.data",
    "torch._dynamo",  # imported by the first torch.optim optimizer (~1 s)
    "mlflow.store.tracking.sqlalchemy_store",
    "matplotlib.pyplot",
]


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
    query = f"tags.`mlflow.parentRunId` = '{info.parent_run_id}' and tags.`ganlab.job` = '{job}'"
    running = [
        run
        for run in load_runs(info.tracking_uri, info.experiment, query, include_running=True)
        if run.status == "RUNNING"
    ]
    if not running:
        return False
    tracker = RunTracker(RunTracker.connect(info.tracking_uri), running[-1].run_id)
    tracker.end("FAILED", reason)
    return True


def warm_context() -> BaseContext | None:
    """The forkserver context with ganlab's modules preloaded, or None without one."""
    if os.environ.get(FORK_ENV, "1") == "0":
        return None
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    preload = list(WARM_MODULES)
    current = multiprocessing.get_start_method(allow_none=True)
    if current not in (None, "fork", "spawn", "forkserver"):
        # a launcher's own start method (joblib's "loky" in its workers) is passed on to
        # every child, which must then know it: preload the module that defines it
        preload.append(type(multiprocessing.get_context()).__module__)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)  # takes effect when the server starts
    return context


def warm_up() -> None:
    """Start the warm process now, in the background, so that its imports overlap with
    the launching process's own start-up (checks, store, parent run)."""
    context = warm_context()
    if context is not None:
        from multiprocessing import forkserver

        forkserver.ensure_running()


def train_forked(args: list[str], env: dict[str, str], cwd: str) -> None:
    """The forked child: become `ganlab-train <args>` in `env` and `cwd`, then run.

    The launching `ganlab-train -m` checked these overrides already, so the child goes
    straight to Hydra (which still reports anything wrong with the job's config)."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["ganlab-train", *args]
    from ganlab.train import hydra_main

    hydra_main()


def start_child(command: list[str], env: dict[str, str]) -> int:
    """Run one job's training to its end; its exit code, or -N when killed by signal N."""
    context = warm_context()
    if context is None:
        return subprocess.run(command, env=env).returncode
    # command = [python, -m, ganlab, *args]: the same arguments, without a new interpreter
    process = context.Process(target=train_forked, args=(command[3:], env, os.getcwd()))
    process.start()
    process.join()
    assert process.exitcode is not None
    return process.exitcode


def run_job(
    info: SweepInfo, job: int, overrides: list[str], job_dir: Path, threads: int | None
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
    returncode = start_child(
        child_command(overrides, job_dir), child_environment(info, job, threads)
    )
    if returncode < 0:
        reason = killed_reason(returncode)
        log.error("sweep job #%d: %s", job, reason)
        if not mark_killed(info, job, reason):
            log.error("sweep job #%d had not created its MLflow run yet", job)
    return returncode
