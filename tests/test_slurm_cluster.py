"""Sweeps through a real SLURM: hydra/launcher=slurm, submitit, sbatch, slurmd.

One single-node cluster (tests/slurm_cluster.py) serves the module. What users rely on:
a sweep's jobs run on the cluster and finish; a job that SLURM requeues (by hand, by a
preemption or past its time limit) resumes from its checkpoint into the same MLflow run
with every epoch logged exactly once; a cluster without accounting (no sacct) neither
floods the output with submitit's warnings nor loses track of its jobs.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests import slurm_cluster
from tests.conftest import TINY, metric_steps, run_cli, start_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(slurm_cluster.missing() is not None, reason=str(slurm_cluster.missing())),
]

# CPU jobs small enough for the test node; every option is one a user sets the same way
LAUNCHER = [
    "-m",
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm_cluster.Cluster]:
    running = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    yield running
    running.stop()


def children(store: Path) -> list:
    """The sweep's child runs (none before the sweep has made its store: opening a store
    while another process creates its tables can fail)."""
    if not list(store.glob("multirun/*/*/ganlab_sweep.json")):
        return []
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ganlab")
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id])
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def epochs_logged(store: Path, run_id: str, key: str = "train/loss_d") -> list[int]:
    return metric_steps(MlflowClient(f"sqlite:///{store / 'mlflow.db'}"), run_id, key)


def await_sweep(
    process: subprocess.Popen, cluster: slurm_cluster.Cluster, timeout_s: float
) -> tuple[int, str]:
    """Wait for a sweep started in the background, releasing requeued jobs from SLURM's
    two-minute begin-time delay as they appear; its exit code and stderr."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        cluster.release_requeued()
        time.sleep(1.0)
    if process.poll() is None:
        process.kill()
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"the sweep did not end in {timeout_s:.0f} s:\n{err[-3000:]}")
    _, err = process.communicate(timeout=30)
    return process.returncode, err


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen in {timeout_s:.0f} s")


def start_sweep(
    cluster: slurm_cluster.Cluster, tmp_path: Path, epochs: int, *overrides: str
) -> subprocess.Popen:
    """One ring8 job of `epochs` epochs, swept through the cluster in the background;
    `overrides` come last (they may replace TINY's)."""
    args = [*LAUNCHER, "seed=0", *TINY, f"trainer.epochs={epochs}", "early_stop=none"]
    args += overrides
    env = {"GANLAB_ROOT": str(tmp_path), "SLURM_CONF": cluster.env["SLURM_CONF"]}
    return start_cli(args, cwd=tmp_path, env=env)


def assert_resumed_to_the_end(tmp_path: Path, epochs: int, resumed_at_least: int) -> None:
    """One run, FINISHED after a resume, every epoch logged exactly once."""
    (run,) = children(tmp_path)
    assert run.info.status == "FINISHED", run.data.tags.get("ganlab.failure")
    assert int(run.data.tags["ganlab.resumed_at_epoch"]) >= resumed_at_least
    assert epochs_logged(tmp_path, run.info.run_id) == list(range(1, epochs + 1))


def test_a_sweep_runs_on_the_cluster(cluster: slurm_cluster.Cluster, tmp_path: Path) -> None:
    result = run_cli(
        [*LAUNCHER, "hydra.launcher.timeout_min=5", "seed=0,1", *TINY],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path), "SLURM_CONF": cluster.env["SLURM_CONF"]},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = children(tmp_path)
    assert sorted(r.info.run_name for r in runs) == ["ns-ring8-s0", "ns-ring8-s1"]
    assert all(r.info.status == "FINISHED" for r in runs)
    for run in runs:
        assert epochs_logged(tmp_path, run.info.run_id) == [1, 2, 3]
    # the jobs ran under SLURM: submitit's logs hold the job ids sbatch gave
    assert list((tmp_path / "multirun").rglob(".submitit/*/*_0_log.out"))
    # accounting is off on this cluster: said once, then squeue instead of sacct warnings
    assert "Bypassing sacct error" not in result.stderr
    assert result.stderr.count("sacct is unavailable on this cluster") == 1


def test_a_requeued_job_resumes_into_the_same_run(
    cluster: slurm_cluster.Cluster, tmp_path: Path
) -> None:
    """`scontrol requeue` of a running job (what a preemption does): the job's run ends
    KILLED with its checkpoint, SLURM starts the job again, and it continues the same
    MLflow run to the end: every epoch logged once, the sweep counts it done once."""
    epochs = 12
    process = start_sweep(
        cluster,
        tmp_path,
        epochs,
        "hydra.launcher.timeout_min=10",
        "trainer.steps_per_epoch=150",
    )
    try:

        def two_epochs_logged() -> bool:
            runs = children(tmp_path)
            return bool(runs) and len(epochs_logged(tmp_path, runs[0].info.run_id)) >= 2

        wait_until(two_epochs_logged, 240, "two epochs of the job")
        (job,) = [j for j in cluster.jobs() if j["state"] == "RUNNING"]
        cluster.run("scontrol", "requeue", job["job_id"])
        returncode, err = await_sweep(process, cluster, 300)
    finally:
        if process.poll() is None:
            process.kill()
    assert returncode == 0, err[-3000:]
    assert_resumed_to_the_end(tmp_path, epochs, resumed_at_least=2)
    assert "1 of 1 jobs finished" in err


def test_a_job_past_its_time_limit_is_requeued_and_resumes(
    cluster: slurm_cluster.Cluster, tmp_path: Path
) -> None:
    """A one-minute time limit with SLURM's warning signal 15 s before it (submitit's
    --signal=USR2), and submitit allowed to requeue the job twice (max_num_timeout=2).

    The job has more epochs than any machine trains in three minutes, so the test does not
    depend on the CPU's speed: every cycle that gets to train (on a loaded machine the
    first may spend its time starting up) must resume where the previous one stopped and
    train at least one epoch (epochs of 200 steps: well under a second), every epoch
    logged exactly once in the same run; after the last cycle the run ends KILLED with its
    checkpoint, and the sweep says the job did not finish."""
    process = start_sweep(
        cluster,
        tmp_path,
        100_000,
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=15",
        "hydra.launcher.max_num_timeout=2",
        "trainer.steps_per_epoch=200",
    )
    try:
        returncode, err = await_sweep(process, cluster, 900)
    finally:
        if process.poll() is None:
            process.kill()
    assert returncode != 0, err[-3000:]
    (run,) = children(tmp_path)
    logged = epochs_logged(tmp_path, run.info.run_id)
    assert logged == list(range(1, len(logged) + 1))  # each epoch once, none missing
    # the cycles, as the job's log headers name them: "epochs FIRST-100000"
    logs = "".join(p.read_text() for p in (tmp_path / "multirun").rglob("*_log.err"))
    firsts = [int(f) for f in re.findall(r"epochs (\d+)-100000 x 200 steps", logs)]
    assert 2 <= len(firsts) <= 3, (firsts, err[-3000:])  # of three cycles, >= 2 trained
    assert firsts[0] == 1 and firsts == sorted(set(firsts)) and firsts[-1] <= len(logged)
    assert run.info.status == "KILLED", run.data.tags
    assert int(run.data.tags["ganlab.resumed_at_epoch"]) == firsts[-1] - 1
