"""The warm process sweep jobs fork from, and the job server that shares it.

Why (see also ganlab.launch.sweeps.job): a job started as a new interpreter spends 4-5 s importing
torch, torch's compiler stubs, MLflow's SQL store and matplotlib before its first step.
Instead, multiprocessing's forkserver imports them once and forks a fresh, single-threaded
child per job; each child is still a process of its own, so a crash or `kill -9` fails
that job alone.

One warm process per sweep: `ganlab-train -m` starts a `JobServer` before anything else
(so the warm process imports while the launcher checks the overrides and creates the
store) and passes its address to the launcher's processes in the environment. A job in
any of them (the launcher itself with Hydra's basic launcher, each joblib worker) asks
the server to fork its child and waits for the exit code. With submitit's launchers (a
SLURM node, or submitit's local executor, whose jobs write to submitit's log files), or
when Hydra is called from Python, the job's process starts a warm process of its own;
where forkserver does not exist (Windows), or with GANLAB_SWEEP_FORK=0, each job starts a
new interpreter.

This module imports nothing heavy itself, so the launcher can start the warm process
before its own imports.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from multiprocessing.context import BaseContext

from ganlab.training.launch_info import ComposedJob  # light: dataclasses only

log = logging.getLogger("ganlab")

FORK_ENV = "GANLAB_SWEEP_FORK"  # "0": every job starts a new interpreter
SERVER_ENV = "GANLAB_JOB_SERVER"  # "<host> <address> <hex key>" of this sweep's server
# What a job imports before its first step; the warm process imports it once.
WARM_MODULES = [
    "ganlab.launch.cli",
    "ganlab.launch.app",
    "ganlab.training.run",
    "ganlab.training.loop",
    "ganlab.losses",
    "ganlab.models",
    "ganlab.monitors",
    "ganlab.rules",
    "ganlab.data",
    "ganlab.launch.sweeps.warm_registries",  # every registry's modules, which a run loads
    "torch._dynamo",  # imported by the first torch.optim optimizer (~1 s)
    "mlflow.store.tracking.sqlalchemy_store",
    "matplotlib.pyplot",
]


def warm_context() -> BaseContext | None:
    """The forkserver context with ganlab's modules preloaded, or None without one."""
    if os.environ.get(FORK_ENV, "1") == "0":
        return None
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    # first: the collector is off while it imports, and the exit handler runs last
    preload = ["ganlab.launch.sweeps.warm_pause", "ganlab.launch.sweeps.warm_exit", *WARM_MODULES]
    current = multiprocessing.get_start_method(allow_none=True)
    if current not in (None, "fork", "spawn", "forkserver"):
        # a launcher's own start method (joblib's "loky" in its workers) is passed on to
        # every child, which must then know it: preload the module that defines it
        preload.append(type(multiprocessing.get_context()).__module__)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)  # takes effect when the server starts
    return context


@dataclass
class JobRequest:
    """One job for a forked process: `ganlab-train`'s arguments, environment and working
    directory, and the job's config when its Hydra job has composed it already."""

    args: list[str]
    env: dict[str, str]
    cwd: str
    composed: ComposedJob | None = None


ChildMain = Callable[[JobRequest], None]


def fork_job(context: BaseContext, child_main: ChildMain, request: JobRequest) -> int:
    """Fork one job's child from the warm process, running `child_main(request)`
    (ganlab.launch.app.train_forked); wait; its exit code (-N: signal N)."""
    process = context.Process(target=child_main, args=(request,))  # type: ignore[attr-defined]
    process.start()
    process.join()
    assert process.exitcode is not None
    return process.exitcode


class JobServer:
    """Forks sweep jobs from one warm process for every launcher process on this host.

    A Unix socket with a random key (passed only through the environment); each request
    is a JobRequest and is answered, in a thread of its own, with the job's exit code.
    """

    def __init__(self, context: BaseContext, child_main: ChildMain) -> None:
        from multiprocessing import forkserver

        self.context = context
        self.child_main = child_main
        forkserver.ensure_running()  # start importing now
        key = os.urandom(32)
        self.listener = Listener(family="AF_UNIX", authkey=key)
        self.spec = f"{socket.gethostname()} {self.listener.address} {key.hex()}"
        threading.Thread(target=self._serve, name="ganlab-job-server", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection = self.listener.accept()
            except (EOFError, multiprocessing.AuthenticationError):
                continue  # a client without the key, or gone before the handshake
            except OSError:
                return  # the socket is closed: the sweep is over
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: Connection) -> None:
        with connection:
            try:
                request = connection.recv()
                connection.send(fork_job(self.context, self.child_main, request))
            except (OSError, EOFError) as exc:  # the asking process died: its job goes on
                log.debug("job server: a client went away (%s)", exc)


def start_job_server(child_main: ChildMain) -> None:
    """Start this sweep's job server and announce it to the launcher's processes; each
    job's child runs `child_main`."""
    context = warm_context()
    if context is not None and SERVER_ENV not in os.environ:
        os.environ[SERVER_ENV] = JobServer(context, child_main).spec


def run_on_job_server(request: JobRequest) -> int | None:
    """Run a job through this sweep's server; None when there is none to reach here."""
    spec = os.environ.get(SERVER_ENV, "").split()
    if len(spec) != 3 or spec[0] != socket.gethostname() or not os.path.exists(spec[1]):
        return None
    try:
        connection = Client(spec[1], family="AF_UNIX", authkey=bytes.fromhex(spec[2]))
    except (OSError, EOFError, multiprocessing.AuthenticationError):
        return None
    with connection:
        connection.send(request)
        try:
            return int(connection.recv())
        except (OSError, EOFError):
            log.error("the sweep's job server went away while the job ran")
            return 1
