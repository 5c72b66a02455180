"""Sweeps as users launch them: parent and child runs, parallel jobs, failures, re-runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY, run_cli, start_cli

pytestmark = pytest.mark.slow

SMALL = [*TINY, "trainer.epochs=2", "monitor.duality_gap.every_n_epochs=0"]


def runs_of(store: Path) -> tuple[MlflowClient, list]:
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ganlab")
    return client, client.search_runs([experiment.experiment_id])


def test_parallel_sweep_logs_every_job_under_one_parent(tmp_path: Path) -> None:
    """The issue's acceptance run: 8 ring8 jobs, joblib with n_jobs=2, a fresh store."""
    result = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "loss=ns,mm_nsat,hinge,lsgan",
            "seed=0,1",
            *SMALL,
        ],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "8 of 8 jobs finished" in result.stderr
    client, runs = runs_of(tmp_path)
    (parent,) = [r for r in runs if r.data.tags.get("ganlab.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 8 and len(runs) == 9
    assert sorted(int(r.data.tags["ganlab.job"]) for r in children) == list(range(8))
    by_loss = {c.data.tags["loss"]: set(c.data.metrics) for c in children}
    for child in children:
        assert child.info.status == "FINISHED"
        # the full metric set in every job (jsd_estimate only exists for logistic losses)
        assert set(child.data.metrics) == by_loss[child.data.tags["loss"]]
        assert ("monitor/jsd_estimate" in child.data.metrics) == (
            child.data.tags["loss"] in ("ns", "mm_nsat")
        )
        assert {
            "monitor/steepness_p90",
            "monitor/dgrad_fake_p90",
            "quality/hq_fraction",
            "phase",
        } <= set(child.data.metrics)
        # the cores shared out: cores // parallel jobs each (n_jobs=2 here), never fewer than 1
        assert child.data.tags["ganlab.threads"] == str(max(1, (os.cpu_count() or 1) // 2))
        # parallel jobs share the terminal: each line names its run
        assert re.search(
            rf"\[ganlab {child.info.run_name}\]\[INFO\] - done: 2 epochs", result.stderr
        )
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["ganlab.sweep.finished"] == "8"
    summary = {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")}
    assert {"comparison/runs.md", "comparison/groups.csv", "comparison/grid.png"} <= summary
    sweep_dir = Path(parent.data.tags["ganlab.sweep_dir"])
    assert sweep_dir.parent.parent == tmp_path / "multirun"
    assert sorted(p.name for p in sweep_dir.iterdir() if p.name.isdigit()) == [
        str(i) for i in range(8)
    ]


def test_failed_job_is_reported_and_rerun_with_one_command(tmp_path: Path) -> None:
    env = {"GANLAB_ROOT": str(tmp_path)}
    result = run_cli(["-m", "loss=lsgan", "optim.d.lr=1e-3,1e12", *SMALL], cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "1 of 2 jobs finished" in result.stderr
    assert re.search(
        r"#1 .*optim\.d\.lr=1000000000000\.0 .*\(FAILED\): non-finite train/loss_d", result.stderr
    )
    (parent_id,) = re.findall(r"re-run only these: ganlab-rerun ([0-9a-f]{32})", result.stderr)
    client, _ = runs_of(tmp_path)
    assert client.get_run(parent_id).info.status == "FAILED"

    # the fix for the failed job, applied to it alone
    rerun = run_cli([parent_id, "optim.d.lr=1e-3"], tmp_path, env, command="ganlab-rerun")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "+ job 1: ganlab-train" in rerun.stdout
    assert "2 of 2 jobs finished" in rerun.stderr
    assert client.get_run(parent_id).info.status == "FINISHED"
    _, runs = runs_of(tmp_path)
    job1 = [r for r in runs if r.data.tags.get("ganlab.job") == "1"]
    assert sorted(r.info.status for r in job1) == ["FAILED", "FINISHED"]
    nothing = run_cli([parent_id], tmp_path, env, command="ganlab-rerun")
    assert "nothing to re-run" in nothing.stdout


def test_submitit_local_launcher_runs_jobs_for_real(tmp_path: Path) -> None:
    result = run_cli(
        [
            "-m",
            "hydra/launcher=submitit_local",
            "hydra.launcher.timeout_min=10",
            "seed=0,1",
            *SMALL,
        ],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(tmp_path)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert sorted(r.info.run_name for r in children) == ["ns-ring8-s0", "ns-ring8-s1"]
    assert all(r.info.status == "FINISHED" for r in children)


def training_process_id(job_dir: Path) -> int | None:
    """The process that trained the sweep job in `job_dir` (the last one, after a
    requeue), as its log names it: "ganlab run NAME (MLflow run ID, process PID)"."""
    found = [
        int(pid)
        for log_file in job_dir.glob("*.log")
        for pid in re.findall(r"\(MLflow run [0-9a-f]{32}, process (\d+)[,)]", log_file.read_text())
    ]
    return found[-1] if found else None


def warm_process_id(job_dir: Path) -> int | None:
    """The warm process the job's training process was forked from, as its log names it
    ("..., forked from the sweep's warm process PID)"); None: a new interpreter."""
    found = [
        int(pid)
        for log_file in job_dir.glob("*.log")
        for pid in re.findall(r"forked from the sweep's warm process (\d+)\)", log_file.read_text())
    ]
    return found[-1] if found else None


def training_process(job_dir: Path) -> int | None:
    """The process training the sweep job in `job_dir`, while it is alive (Linux /proc)."""
    pid = training_process_id(job_dir)
    return pid if pid is not None and Path(f"/proc/{pid}").exists() else None


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("launcher", ["joblib", "basic"])
def test_killed_job_fails_alone_and_is_rerun(tmp_path: Path, launcher: str) -> None:
    """SIGKILL one job's training mid-run (as the out-of-memory killer would): the other
    jobs finish, the summary names the signal, and ganlab-rerun continues the job."""
    import os
    import signal
    import time

    from ganlab.training.checkpoint import load_checkpoint

    args = [
        "-m",
        f"hydra/launcher={launcher}",
        "seed=0,1,2",
        *SMALL,
        "trainer.epochs=4",
        "trainer.steps_per_epoch=300",
        "early_stop=none",
    ]
    if launcher == "joblib":
        args.append("hydra.launcher.n_jobs=2")
    sweep = start_cli(args, tmp_path, {"GANLAB_ROOT": str(tmp_path)})
    try:
        deadline = time.time() + 300
        victim = None
        while victim is None and time.time() < deadline:
            dirs = list((tmp_path / "multirun").glob("*/*/0"))
            checkpoint = dirs[0] / "checkpoints" / "last.pt" if dirs else None
            if checkpoint and checkpoint.is_file() and load_checkpoint(checkpoint)["epoch"] >= 1:
                victim = training_process(dirs[0])
            time.sleep(0.2)
        assert victim is not None, "job 0 never reached its first checkpoint"
        os.kill(victim, signal.SIGKILL)
        _, stderr = sweep.communicate(timeout=600)
    finally:
        sweep.kill()
    assert sweep.returncode == 1
    assert "2 of 3 jobs finished" in stderr
    assert re.search(r"#0 .*seed=0 .*\(FAILED\): the job's process was killed by SIGKILL", stderr)
    (parent_id,) = re.findall(r"re-run only these: ganlab-rerun ([0-9a-f]{32})", stderr)
    client, runs = runs_of(tmp_path)
    job0 = next(r for r in runs if r.data.tags.get("ganlab.job") == "0")
    assert job0.info.status == "FAILED"

    rerun = run_cli([parent_id], tmp_path, {"GANLAB_ROOT": str(tmp_path)}, command="ganlab-rerun")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "3 of 3 jobs finished" in rerun.stderr
    # continued from its checkpoint: the same run, every epoch logged exactly once
    assert client.get_run(job0.info.run_id).info.status == "FINISHED"
    steps = sorted(m.step for m in client.get_metric_history(job0.info.run_id, "train/loss_d"))
    assert steps == [1, 2, 3, 4]


def test_a_sweep_with_every_monitor_off_ends_cleanly(tmp_path: Path) -> None:
    """No curves at all (monitor=none): the summary has nothing to draw on a log scale,
    and the parent run must still end FINISHED, with no warning."""
    env = {"GANLAB_ROOT": str(tmp_path)}
    result = run_cli(["-m", "seed=0,1", "monitor=none", *SMALL], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "WARNING" not in result.stderr
    assert "2 of 2 jobs finished" in result.stderr
    _, runs = runs_of(tmp_path)
    (parent,) = [r for r in runs if r.data.tags.get("ganlab.role") == "sweep"]
    assert parent.info.status == "FINISHED"


def test_mismatched_groups_fail_before_any_job_starts(tmp_path: Path) -> None:
    env = {"GANLAB_ROOT": str(tmp_path)}
    result = run_cli(["-m", "model=mlp,dcgan", *SMALL], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ganlab-train: error: model=dcgan is for images; use model=mlp with dataset=ring8."
    ]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "multirun").exists()


def test_a_requeued_job_resumes_into_the_same_run(tmp_path: Path, monkeypatch) -> None:
    """A scheduler's preemption: SIGTERM ends the job's run KILLED with its checkpoint;
    the requeued job (the same job in the same folder) continues that run, every epoch
    logged once, and it ends FINISHED without the old failure."""
    import os
    import signal
    import threading
    import time

    from ganlab.launch.app import train_forked
    from ganlab.launch.sweeps.job import run_job
    from ganlab.launch.sweeps.parent import SweepInfo
    from ganlab.tracking import RunTracker
    from ganlab.training.checkpoint import load_checkpoint

    monkeypatch.setenv("GANLAB_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parent = RunTracker.start(uri, "ganlab", "sweep-requeue", {"ganlab.role": "sweep"})
    info = SweepInfo(parent.run_id, uri, "ganlab", str(tmp_path / "multirun" / "s"))
    info.save()
    job_dir = Path(info.sweep_dir) / "0"
    overrides = [*TINY, "trainer.epochs=5", "trainer.steps_per_epoch=400", "early_stop=none"]
    checkpoint = job_dir / "checkpoints" / "last.pt"

    def preempt() -> None:  # SIGTERM to the job's training process after its first epoch
        deadline = time.time() + 300
        while time.time() < deadline:
            if checkpoint.is_file() and load_checkpoint(checkpoint)["epoch"] >= 1:
                pid = training_process(job_dir)
                if pid is not None:
                    os.kill(pid, signal.SIGTERM)
                    return
            time.sleep(0.2)

    watcher = threading.Thread(target=preempt)
    watcher.start()
    assert run_job(info, 0, overrides, job_dir, None, train_forked) == 143
    watcher.join()
    client = MlflowClient(uri)
    (child,) = [r for r in runs_of(tmp_path)[1] if r.info.run_id != parent.run_id]
    assert child.info.status == "KILLED" and "SIGTERM" in child.data.tags["ganlab.failure"]

    assert run_job(info, 0, overrides, job_dir, None, train_forked) == 0  # the requeue
    (again,) = [r for r in runs_of(tmp_path)[1] if r.info.run_id != parent.run_id]
    assert again.info.run_id == child.info.run_id and again.info.status == "FINISHED"
    assert "ganlab.failure" not in again.data.tags
    steps = sorted(m.step for m in client.get_metric_history(child.info.run_id, "train/loss_d"))
    assert steps == [1, 2, 3, 4, 5]


def test_forked_jobs_train_exactly_as_a_new_interpreter_does(tmp_path: Path) -> None:
    """Sweep jobs fork from a warm process (no imports per job); GANLAB_SWEEP_FORK=0 starts
    a new interpreter per job. Both must train the same numbers, each job in a process of
    its own, neither of them the launcher's."""
    histories = {}
    for fork in ("1", "0"):
        root = tmp_path / f"fork{fork}"
        root.mkdir()
        result = run_cli(
            ["-m", "seed=0,1", *SMALL],
            cwd=root,
            env={"GANLAB_ROOT": str(root), "GANLAB_SWEEP_FORK": fork},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        client, runs = runs_of(root)
        children = sorted(
            (r for r in runs if "ganlab.job" in r.data.tags), key=lambda r: r.data.tags["seed"]
        )
        assert len(children) == 2
        pids = {training_process_id(Path(r.data.tags["ganlab.output_dir"])) for r in children}
        assert len(pids) == 2 and None not in pids
        # how each job's process started, as its log header says: forked from the one
        # warm process of the sweep, or (GANLAB_SWEEP_FORK=0) a new interpreter
        warm = {warm_process_id(Path(r.data.tags["ganlab.output_dir"])) for r in children}
        assert (len(warm) == 1 and None not in warm) if fork == "1" else warm == {None}
        assert not warm & pids
        histories[fork] = [
            [m.value for m in client.get_metric_history(r.info.run_id, key)]
            for r in children
            for key in ("train/loss_d", "monitor/steepness_p90", "quality/hq_fraction")
        ]
    assert histories["1"] == histories["0"]


WARM_PROCESS_SCRIPT = """
import sys
from multiprocessing import forkserver
from ganlab.launch.sweeps import warm
if sys.argv[1] == "warm":
    warm.WARM_MODULES[:] = ["teardown_marker"]  # instead of torch, MLflow, ...
    context = warm.warm_context()
else:  # a plain forkserver preloading the same module: its teardown does run
    import multiprocessing
    multiprocessing.get_context("forkserver").set_forkserver_preload(["teardown_marker"])
forkserver.ensure_running()
print(forkserver._forkserver._forkserver_pid, flush=True)
"""


def ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (its parent exited)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_warm_process_exits_without_tearing_down_its_modules(tmp_path: Path) -> None:
    """With torch and MLflow loaded that teardown costs seconds of CPU after the sweep's
    command has returned. A preloaded module whose object leaves a file when destroyed
    shows whether the warm process tore its modules down; a plain forkserver, the control,
    must."""
    import subprocess
    import sys
    import time

    (tmp_path / "teardown_marker.py").write_text(
        "class Marker:\n"
        "    def __init__(self, path, opener=open):\n"
        "        self.path, self.opener = path, opener\n"
        "    def __del__(self):\n"
        "        self.opener(self.path, 'w').close()\n"
        f"marker = Marker({str(tmp_path / 'torn_down')!r})\n"
    )
    for kind, tears_down in (("plain", True), ("warm", False)):
        (tmp_path / "torn_down").unlink(missing_ok=True)
        out = subprocess.run(
            [sys.executable, "-c", WARM_PROCESS_SCRIPT, kind],
            # the forkserver imports its preloads from PYTHONPATH, not the caller's sys.path
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        pid = int(out.stdout.split()[0])
        deadline = time.monotonic() + 30
        while not ended(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended(pid), f"the {kind} forkserver did not exit after its launcher"
        assert (tmp_path / "torn_down").exists() == tears_down, kind
