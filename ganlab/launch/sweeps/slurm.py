"""What running a sweep under SLURM (hydra/launcher=slurm, through submitit) needs.

Two things, both learned on a real single-node cluster (tests/test_slurm_cluster.py):

* **Preemption and requeue.** `scontrol requeue`, a preemption or a time limit ends a
  running job with SIGTERM to every process of it (submitit's own process ignores it),
  and SLURM starts the job again later. The training child saves nothing new, ends its
  MLflow run KILLED and keeps its last checkpoint; the restarted job finds that
  checkpoint in its folder and resumes into the same run (ganlab.launch.sweeps.job). The job's
  own process must then *not* return a result: submitit would write it, and the launcher
  would count the job as done before it has run again. `EndedBySlurm` tells the job
  whether SLURM is ending it, and `wait_to_be_requeued` waits (bounded) for SLURM's
  SIGKILL instead of returning.
* **Clusters without accounting.** submitit asks `sacct` for job states; where
  accounting storage is off (small or test clusters), every poll fails with a warning
  and a job that ends without a result (cancelled, killed past its time limit) would be
  waited for forever. `QueueWatcher` asks `sacct` once, and where it is disabled reads
  the states from `squeue` instead (jobs that left the queue have ended).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger("ganlab")

# States squeue shows for jobs that are not over but that submitit's list of unfinished
# states (written for sacct) lacks: reported to it as RUNNING
NOT_OVER = (
    "CONFIGURING",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
    "RESV_DEL_HOLD",
)
GONE = "ENDED"  # our state for a job squeue no longer lists: it ended MinJobAge ago


def slurm_job_id() -> str | None:
    """This process's SLURM job (None outside SLURM)."""
    return os.environ.get("SLURM_JOB_ID") or None


class EndedBySlurm:
    """While active, notes SIGTERM (SLURM ending the job) and passes it on to the
    handler that was there (submitit's, which logs it). Main thread only."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: Any = None

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        if callable(self._previous):
            self._previous(signum, frame)

    def __enter__(self) -> EndedBySlurm:
        self._previous = signal.signal(signal.SIGTERM, self._note)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def wait_to_be_requeued(job: int, signal_name: str, limit_s: float = 600.0) -> None:
    """Block until SLURM kills this process (it does after its KillWait, 30 s by
    default); return after `limit_s` if it never does (a SIGTERM sent by hand)."""
    log.warning(
        "sweep job #%d: SLURM ended job %s with %s (requeue, preemption or time limit): its "
        "run is KILLED with its checkpoint and resumes from it when SLURM starts the job "
        "again; waiting for SLURM to end this process",
        job,
        slurm_job_id(),
        signal_name,
    )
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
    log.error("sweep job #%d: SLURM did not end this process in %.0f s; giving up", job, limit_s)


def _parse_squeue(output: str, asked: set[str]) -> dict[str, dict[str, str]]:
    """`squeue --format=%i|%T|%N` lines (no header) -> submitit's sacct-shaped info (read
    by submitit's own sacct reader, array ranges included), plus GONE for every asked job
    squeue no longer lists."""
    from submitit.slurm.slurm import SlurmInfoWatcher

    lines = ["JobID|State|NodeList"]
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            job_id, state, nodes = parts
            lines.append(f"{job_id}|{'RUNNING' if state in NOT_OVER else state}|{nodes}")
    info = SlurmInfoWatcher(delay_s=0).read_info("\n".join(lines))
    seen = {job_id.split("_")[0] for job_id in info}
    for job_id in asked:
        if job_id.split("_")[0] not in seen:
            info[job_id] = {"JobID": job_id, "State": GONE, "NodeList": ""}
    return info


def _queue_watcher_class() -> type:
    from submitit.slurm.slurm import SlurmInfoWatcher

    class QueueWatcher(SlurmInfoWatcher):
        """submitit's watcher, falling back to `squeue` where accounting is off."""

        accounting: bool | None = None  # unknown until the first poll

        def update(self) -> None:
            if self.accounting is None:
                self.accounting = _accounting_enabled()
            if self.accounting:
                super().update()
                return
            asked = self._registered - self._finished
            if not asked:
                return
            self._num_calls += 1
            command = [
                "squeue",
                "--noheader",
                "--states=all",
                "--format=%i|%T|%N",
                "--jobs",
                ",".join(sorted({x.split("_")[0] for x in asked})),
            ]
            try:
                output = subprocess.run(
                    command, capture_output=True, text=True, check=True, timeout=60
                ).stdout
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("squeue failed (%s); job states may be late", exc)
            else:
                self._info_dict.update(_parse_squeue(output, asked))
            self._last_status_check = time.time()
            for job_id in asked:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)

    return QueueWatcher


def _accounting_enabled() -> bool:
    """Whether `sacct` answers on this cluster (it exits 1 with 'accounting storage is
    disabled' where it is off). Said once, in the log, when it does not."""
    try:
        done = subprocess.run(
            ["sacct", "--noheader", "--jobs", "0"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return True  # let submitit report its own errors
    if done.returncode == 0:
        return True
    log.info(
        "sacct is unavailable on this cluster (%s): job states are read with squeue instead",
        (done.stderr or done.stdout).strip() or f"exit {done.returncode}",
    )
    return False


def install_queue_watcher(delay_s: float = 60.0) -> None:
    """Make submitit's SLURM jobs use QueueWatcher (polled at least every `delay_s`,
    below SLURM's default MinJobAge of 300 s so no ended job leaves squeue unseen)."""
    from submitit.slurm.slurm import SlurmJob

    if type(SlurmJob.watcher).__name__ != "QueueWatcher":
        SlurmJob.watcher = _queue_watcher_class()(delay_s=delay_s)
