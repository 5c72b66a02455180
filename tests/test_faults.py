"""Faults injected for real: SIGKILL mid-training, a tracking server restarted or gone.

Each checks the platform's promise: the run continues or fails clearly, every epoch's
metrics appear exactly once, checkpoints are never half-written, and a resumed run ends
where an uninterrupted one would (bit-identical weights on the CPU).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from ganlab.training.checkpoint import load_checkpoint
from tests.conftest import TINY, metric_steps, run_cli, start_cli
from tests.support import (
    assert_same_state,
    free_port,
    logged_values,
    server_that_hangs_up,
    start_tracking_server,
    stop_tracking_server,
)

pytestmark = pytest.mark.slow

# long enough epochs that a kill lands inside one; no monitors that draw extra randomness
RUN = [
    *TINY,
    "trainer.epochs=5",
    "trainer.steps_per_epoch=400",
    "trainer.progress=log",
    "early_stop=none",
    "monitor.duality_gap.every_n_epochs=0",
]


def wait_for_epoch(
    checkpoint: Path, epoch: int, process: subprocess.Popen, timeout: float
) -> float:
    """Wait until the checkpoint holds `epoch`; return when it was seen."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if checkpoint.is_file() and load_checkpoint(checkpoint)["epoch"] >= epoch:
            return time.time()
        if process.poll() is not None:
            pytest.fail(f"training ended early: {process.stderr.read()[-2000:]}")
        time.sleep(0.2)
    pytest.fail(f"no checkpoint of epoch {epoch} within {timeout} s")


def wait_for_step(process: subprocess.Popen, first: int, before: int, timeout: float) -> int:
    """Read the run's progress bar (stderr) until it reports a step in [first, before);
    return that step. Fails when the run ends, skips past `before` or takes too long."""
    import re
    import threading

    seen: list[int] = []
    found = threading.Event()

    def read() -> None:
        text = ""
        assert process.stderr is not None
        while chunk := process.stderr.read(1):
            text = (text + chunk)[-200:]
            if chunk in "\r\n":
                steps = re.findall(r"\| *(\d+)/\d+ \[", text)
                if steps:
                    seen.append(int(steps[-1]))
                    if int(steps[-1]) >= first:
                        found.set()
                        return

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout):
        pytest.fail(f"no progress past step {first} within {timeout} s (seen: {seen[-3:]})")
    assert seen[-1] < before, f"the bar jumped from {seen[-2:]} past {before}"
    return seen[-1]


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    env = {"GANLAB_ROOT": str(tmp_path)}
    reference = run_cli(
        [*RUN, f"hydra.run.dir={tmp_path / 'reference'}", "tracking.experiment=reference"],
        cwd=tmp_path,
        env=env,
    )
    assert reference.returncode == 0, reference.stderr[-2000:]

    victim_dir = tmp_path / "victim"
    # the progress bar reports the step count: the kill lands when the run says it is a
    # quarter into epoch 3 (steps 900-1200 of 2000), not after a guessed wait
    victim = start_cli([*RUN, "trainer.progress=bar", f"hydra.run.dir={victim_dir}"], tmp_path, env)
    checkpoint = victim_dir / "checkpoints" / "last.pt"
    at = wait_for_step(victim, first=900, before=1200, timeout=300)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ganlab").experiment_id
    (run,) = client.search_runs([experiment])
    assert run.info.status == "RUNNING"  # the process died before it could close the run
    # never half-written: whatever the kill interrupted, last.pt is a whole checkpoint (a
    # write cut short leaves only last.pt.tmp, which the next save overwrites)
    killed_at = load_checkpoint(checkpoint)["epoch"]
    assert killed_at == 2, f"killed at step {at}, checkpoint of epoch {killed_at}"

    resumed = run_cli(
        [f"trainer.resume={victim_dir}", "trainer.progress=log"], cwd=tmp_path, env=env
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"epochs {killed_at + 1}-5" in resumed.stderr
    run = client.get_run(run.info.run_id)
    assert run.info.status == "FINISHED"
    for key in ("train/loss_d", "quality/hq_fraction"):
        first = 1 if key.startswith("train/") else 0
        assert metric_steps(client, run.info.run_id, key) == list(range(first, 6)), key
    # the resumed run IS the uninterrupted one: G, D, both optimisers' moments, the random
    # stream and the stopper's history to the last bit, and every value it logged
    final = load_checkpoint(Path(run.data.tags["ganlab.checkpoint"]))
    expected = load_checkpoint(tmp_path / "reference/checkpoints/last.pt")
    assert_same_state(final["trainer"], expected["trainer"], "trainer")
    assert_same_state(final["early_stop"], expected["early_stop"], "early_stop")
    (reference_run,) = client.search_runs(
        [client.get_experiment_by_name("reference").experiment_id]
    )
    assert logged_values(client, run.info.run_id) == logged_values(
        client, reference_run.info.run_id
    )


def start_server(tmp_path: Path, port: int, backend: str) -> subprocess.Popen:
    return start_tracking_server(tmp_path, port, backend)


def stop_server(process: subprocess.Popen) -> None:
    stop_tracking_server(process, signal.SIGKILL)


def test_tracking_server_restart_mid_run_is_ridden_out(tmp_path: Path) -> None:
    """MLflow's client retries with back-off: a restart of a few seconds loses nothing."""
    port, backend = free_port(), f"sqlite:///{tmp_path / 'server.db'}"
    server = start_server(tmp_path, port, backend)
    uri = f"http://127.0.0.1:{port}"
    run_dir = tmp_path / "run"
    trainer = start_cli(
        [*RUN, "tracking=server", f"hydra.run.dir={run_dir}"],
        tmp_path,
        {"GANLAB_ROOT": str(tmp_path), "MLFLOW_TRACKING_URI": uri},
    )
    try:
        wait_for_epoch(run_dir / "checkpoints" / "last.pt", 1, trainer, timeout=300)
        stop_server(server)
        time.sleep(4)
        server = start_server(tmp_path, port, backend)
        _, stderr = trainer.communicate(timeout=900)
        assert trainer.returncode == 0, stderr[-3000:]
        client = MlflowClient(uri)
        (run,) = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
        assert run.info.status == "FINISHED"
        assert metric_steps(client, run.info.run_id, "train/loss_d") == [1, 2, 3, 4, 5]
    finally:
        trainer.kill()
        stop_server(server)


def test_tracking_server_gone_for_good_fails_clearly_and_resumes_later(tmp_path: Path) -> None:
    port, backend = free_port(), f"sqlite:///{tmp_path / 'server.db'}"
    server = start_server(tmp_path, port, backend)
    uri = f"http://127.0.0.1:{port}"
    run_dir = tmp_path / "run"
    env = {
        "GANLAB_ROOT": str(tmp_path),
        "MLFLOW_TRACKING_URI": uri,
        # give up after a few seconds instead of MLflow's default two minutes
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    trainer = start_cli([*RUN, "tracking=server", f"hydra.run.dir={run_dir}"], tmp_path, env)
    try:
        wait_for_epoch(run_dir / "checkpoints" / "last.pt", 2, trainer, timeout=300)
        stop_server(server)
        _, stderr = trainer.communicate(timeout=600)
        assert trainer.returncode == 2  # a usage-type error: fix the server, then resume
        assert f"lost {uri} while" in stderr
        assert "resume with trainer.resume=<output dir>" in stderr
        assert "Traceback" not in stderr
        saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"]

        server = start_server(tmp_path, port, backend)
        client = MlflowClient(uri)
        (run,) = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
        logged = metric_steps(client, run.info.run_id, "train/loss_d")
        assert logged == list(range(1, len(logged) + 1)) and len(logged) >= saved
        resumed = run_cli(
            [f"trainer.resume={run_dir}", "trainer.progress=log"],
            cwd=tmp_path,
            env={"GANLAB_ROOT": str(tmp_path), "MLFLOW_TRACKING_URI": uri},
        )
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert metric_steps(client, run.info.run_id, "train/loss_d") == [1, 2, 3, 4, 5]
        assert client.get_run(run.info.run_id).info.status == "FINISHED"
    finally:
        trainer.kill()
        stop_server(server)


def test_several_runs_starting_together_on_a_new_store_all_finish(tmp_path: Path) -> None:
    """Four ganlab-train processes started at once on a store that does not exist yet:
    one creates the schema while the others wait, and all four finish."""
    env = {"GANLAB_ROOT": str(tmp_path)}
    procs = [
        start_cli(
            [*TINY, "trainer.epochs=1", f"seed={seed}", f"hydra.run.dir={tmp_path / str(seed)}"],
            tmp_path,
            env,
        )
        for seed in range(4)
    ]
    errors = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            errors.append(err[-1500:])
    assert not errors, errors
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    assert sorted(r.data.tags["seed"] for r in runs) == ["0", "1", "2", "3"]
    assert all(r.info.status == "FINISHED" for r in runs)


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGUSR2, 143)]
)
def test_sigterm_and_sigint_end_the_run_killed_in_one_line_and_resume_cleanly(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """What `docker stop`, systemd and schedulers send (SIGTERM; SLURM warns of a time
    limit with SIGUSR2 when submitit asks it to), and Ctrl-C (SIGINT):
    the run ends KILLED with the reason, one line says how to resume, and a resumed run
    that finishes no longer carries the old failure."""
    env = {"GANLAB_ROOT": str(tmp_path)}
    run_dir = tmp_path / "run"
    proc = start_cli([*RUN, f"hydra.run.dir={run_dir}"], tmp_path, env)
    wait_for_epoch(run_dir / "checkpoints" / "last.pt", 1, proc, timeout=300)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"ganlab-train: stopped by {sig.name}; the MLflow run is marked KILLED")
    assert last.endswith(f"resume with trainer.resume={run_dir}")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    assert run.info.status == "KILLED"
    assert sig.name in run.data.tags["ganlab.failure"]
    assert not list(run_dir.rglob("*.tmp"))  # nothing half-written left behind

    resumed = run_cli([f"trainer.resume={run_dir}"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run = client.get_run(run.info.run_id)
    assert run.info.status == "FINISHED"
    assert "ganlab.failure" not in run.data.tags
    assert metric_steps(client, run.info.run_id, "train/loss_d") == [1, 2, 3, 4, 5]


def test_exploding_losses_end_the_run_as_failed_not_finished(tmp_path: Path) -> None:
    """Learning rates of 1e3 drive the losses to ~1e23 without a NaN: that is divergence."""
    env = {"GANLAB_ROOT": str(tmp_path)}
    result = run_cli(
        [*TINY, "optim.d.lr=1e3", "optim.g.lr=1e3", "trainer.epochs=3"], cwd=tmp_path, env=env
    )
    assert result.returncode == 1
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    assert run.info.status == "FAILED"
    assert "training diverged" in run.data.tags["ganlab.failure"]


STUDY_COMMANDS = (
    ("ganlab-replay", []),
    ("ganlab-compare", ["--out", "compared"]),
    ("ganlab-rerun", ["0" * 32]),
)


def test_study_commands_answer_at_once_when_the_server_is_gone(tmp_path: Path) -> None:
    """replay, compare and rerun against a server nobody listens on: one line, exit 2
    (MLflow's client alone would retry with back-off for minutes)."""
    uri = f"http://127.0.0.1:{free_port()}"
    for command, args in STUDY_COMMANDS:
        result = run_cli([*args, "--tracking-uri", uri], cwd=tmp_path, command=command)
        assert result.returncode == 2, (command, result.stderr[-1500:])
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "is unreachable" in lines[0], (command, lines)


def test_study_commands_ask_a_dead_server_once_instead_of_retrying(tmp_path: Path) -> None:
    """Answering at once means not retrying: against a port that accepts connections and
    hangs up on each, every command connects exactly once, then says so in one line."""
    with server_that_hangs_up() as (uri, connections):
        for command, args in STUDY_COMMANDS:
            before = len(connections)
            result = run_cli([*args, "--tracking-uri", uri], cwd=tmp_path, command=command)
            assert result.returncode == 2, (command, result.stderr[-1500:])
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "is unreachable" in lines[0], (command, lines)
            assert len(connections) - before == 1, (command, len(connections) - before)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 1 MB file system (tmpfs; needs root, as in CI): a checkpoint of the ring8
    MLPs with their Adam states does not fit twice."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_sentence_and_leaves_no_temporary_files(
    tmp_path: Path, tiny_disk: Path
) -> None:
    env = {"GANLAB_ROOT": str(tmp_path)}  # the store stays on the big disk
    out = tiny_disk / "run"
    result = run_cli([*TINY, "trainer.epochs=3", f"hydra.run.dir={out}"], cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ganlab-train: error: cannot write checkpoint") and "disk" in last
    assert not list(tiny_disk.rglob("*.tmp"))
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    assert run.info.status == "FAILED"
    assert "cannot write checkpoint" in run.data.tags["ganlab.failure"]
    # what was logged is kept: every epoch up to the one whose checkpoint did not fit (its
    # metrics are logged before its checkpoint is written), in metrics and quality alike
    whole = load_checkpoint(out / "checkpoints" / "last.pt")["epoch"]
    failed_at = whole + 1
    assert metric_steps(client, run.info.run_id, "train/loss_d") == list(range(1, failed_at + 1))
    assert metric_steps(client, run.info.run_id, "quality/score") == list(range(0, failed_at + 1))


def test_a_corrupt_image_is_named_in_one_line(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "images" / "faces"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (40, 40), (i * 40, 10, 10)).save(folder / f"ok{i}.png")
    broken = folder / "broken.png"
    broken.write_bytes((folder / "ok0.png").read_bytes()[:60])  # a truncated file
    env = {"GANLAB_ROOT": str(tmp_path)}
    result = run_cli(
        [
            *TINY,
            "dataset=image_folder",
            f"dataset.path={tmp_path / 'images'}",
            "model=dcgan",
            "monitor=none",
            "trainer.epochs=1",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ganlab-train: error: cannot read image {broken}")
    assert last.endswith("remove or replace it and run again.")


def test_kill_9_inside_a_checkpoint_write_leaves_the_previous_checkpoint_whole(
    tmp_path: Path,
) -> None:
    """A process killed while writing a checkpoint: the previous checkpoint stays whole and
    loadable, and the next write replaces the stale temporary file.

    The kill lands inside the write by construction, not by timing: the temporary file is
    a pipe the test reads a megabyte from and then stops reading, so the writer, with
    240 MB still to write, is blocked inside torch.save when it is killed."""
    from ganlab.training.checkpoint import save_checkpoint

    path = tmp_path / "last.pt"
    small = {"epoch": 1, "trainer": {"w": torch.ones(3)}, "run_id": "r", "config_yaml": ""}
    save_checkpoint(path, small)
    tmp = path.with_name("last.pt.tmp")
    os.mkfifo(tmp)
    reader = os.open(tmp, os.O_RDONLY | os.O_NONBLOCK)  # open before the writer: no hang
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, torch; from pathlib import Path; "
            "from ganlab.training.checkpoint import save_checkpoint; "
            "save_checkpoint(Path(sys.argv[1]), {'epoch': 2, 'run_id': 'r', 'config_yaml': '',"
            " 'trainer': {'w': torch.zeros(60_000_000)}})",
            str(path),
        ]
    )
    written = b""
    try:
        for _ in range(6000):  # at most ~120 s
            try:
                chunk = os.read(reader, 1 << 16)  # b"": no writer yet
            except BlockingIOError:  # a writer, nothing written yet
                chunk = b""
            written += chunk
            if not chunk:
                if writer.poll() is not None:
                    pytest.fail("the writer ended before writing into the checkpoint")
                time.sleep(0.02)
            if len(written) >= 1 << 20:
                break
        assert len(written) >= 1 << 20, "the writer wrote nothing within two minutes"
        assert writer.poll() is None  # blocked on the full pipe, inside torch.save
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        os.close(reader)
        writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert load_checkpoint(path)["epoch"] == 1  # whole: the write went to last.pt.tmp
    tmp.unlink()
    tmp.write_bytes(written)  # what a killed write leaves behind: a partial .tmp
    save_checkpoint(path, {**small, "epoch": 3})
    assert load_checkpoint(path)["epoch"] == 3
    assert not tmp.exists()
