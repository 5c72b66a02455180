"""A real single-node SLURM cluster for the tests, started from Debian's packages.

munged (its own key and socket) plus slurmctld and slurmd for one node at 127.0.0.1 on
free ports, every file under one folder; no accounting storage, as on many small
clusters. Clients find it through SLURM_CONF in `Cluster.env`. Needs root and the
packages slurm-wlm and munge (`make system-packages` installs them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port

NODE = "ganlab-node"
DAEMONS = ("munged", "slurmctld", "slurmd")


# the daemons are in /usr/sbin, often not on a user's (or CI's) PATH
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def daemon(name: str) -> str:
    return shutil.which(name, path=SEARCH_PATH) or name


def missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    absent = [
        d for d in (*DAEMONS, "sbatch", "scontrol") if shutil.which(d, path=SEARCH_PATH) is None
    ]
    if absent:
        return f"not installed: {', '.join(absent)} (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "slurmd runs jobs as root here: run the tests as root"
    return None


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]

    def run(self, *command: str, check: bool = True) -> str:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def jobs(self) -> list[dict[str, str]]:
        """squeue's view: id, state and reason of every job it lists."""
        out = self.run("squeue", "--noheader", "--states=all", "--format=%A|%i|%T|%r")
        keys = ("job_id", "array_id", "state", "reason")
        return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines()]

    def release_requeued(self) -> None:
        """A requeued job waits about two minutes (its begin time) before it may start
        again; let the ones waiting for that start now."""
        for job in self.jobs():
            if job["state"] == "PENDING" and job["reason"] == "BeginTime":
                self.run("scontrol", "update", f"JobId={job['job_id']}", "StartTime=now")

    def stop(self) -> None:
        self.run("scancel", "--full", "--user=root", check=False)
        self.run("scontrol", "shutdown", check=False)
        for name in ("slurmd", "slurmctld", "munged"):
            pid_file = self.root / f"{name}.pid"
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)


def start(root: Path, timeout_s: float = 60.0) -> Cluster:
    """Start munged, slurmctld and slurmd under `root`; wait (bounded) for the node."""
    for sub in ("state", "spool", "log", "munge"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)
    socket_path = root / "munge" / "munge.socket"
    subprocess.run(
        [
            daemon("munged"),
            "--force",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={root / 'munged.pid'}",
            f"--log-file={root / 'log' / 'munged.log'}",
            f"--seed-file={root / 'munge' / 'seed'}",
        ],
        check=True,
        timeout=30,
    )
    cpus = os.cpu_count() or 1
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=ganlabtest",
                "SlurmctldHost=localhost(127.0.0.1)",
                f"SlurmctldPort={free_port()}",
                f"SlurmdPort={free_port()}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={socket_path}",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SwitchType=switch/none",
                "MpiDefault=none",
                "ReturnToService=2",
                "SchedulerType=sched/builtin",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "JobRequeue=1",
                "KillWait=15",
                "MinJobAge=300",
                f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN",
                f"PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = Cluster(root, env)
    try:
        subprocess.run([daemon("slurmctld"), "-f", str(conf)], env=env, check=True, timeout=30)
        subprocess.run(
            [daemon("slurmd"), "-f", str(conf), "-N", NODE], env=env, check=True, timeout=30
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = cluster.run("sinfo", "--noheader", "--format=%T", check=False).strip()
            if state == "idle":
                return cluster
            time.sleep(0.5)
        raise RuntimeError(f"the test node did not become idle in {timeout_s:.0f} s: {state!r}")
    except BaseException:
        cluster.stop()
        raise
