"""A real MLflow tracking server, started with the compose service's own script.

The server runs natively on a free loopback port, with PostgreSQL (a fresh database per
test run on the local server) or SQLite as its backend store and a temporary artifact
root; a parallel joblib sweep logs into it through HTTP, and everything is read back
through the server with MlflowClient.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY, run_cli
from tests.support import (
    free_port,
    server_that_hangs_up,
    start_tracking_server,
    stop_tracking_server,
)

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"]


def postgres_available() -> bool:
    try:
        return (
            subprocess.run([*PSQL, "-c", "select 1"], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    if not postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    database = f"ganlab_test_{uuid.uuid4().hex[:12]}"
    subprocess.run([*PSQL, "-c", f"CREATE DATABASE {database}"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{database}"
    finally:
        subprocess.run(
            [*PSQL, "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], capture_output=True
        )


@pytest.fixture
def server(backend: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start_tracking_server(tmp_path, port, backend)
    try:
        # the store URI (a database password, on PostgreSQL) is on no command line
        for pid in subprocess.run(
            ["pgrep", "-s", str(process.pid)], capture_output=True, text=True
        ).stdout.split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            assert backend not in cmdline.replace("\0", " "), cmdline
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_tracking_server(process)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], indirect=True)
def test_parallel_sweep_into_a_tracking_server(server: str, tmp_path: Path) -> None:
    epochs = 2
    result = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "tracking=server",
            "loss=ns,hinge",
            "seed=0,1",
            *TINY,
            f"trainer.epochs={epochs}",
            "monitor.prdc.every_n_epochs=1",  # every quality key at every epoch
        ],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path), "MLFLOW_TRACKING_URI": server},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "mlflow.db").exists()  # everything went to the server
    client = MlflowClient(server)
    runs = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("ganlab.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 4
    # ganlab-compare's bulk reads through the server equal one read per run and key
    from ganlab.tracking import metric_histories, metric_history
    from ganlab.tracking.readers import _bulk_reader

    assert _bulk_reader(client) is not None
    bulk = metric_histories(client, children)
    for child in children:
        assert bulk[child.info.run_id] == metric_history(client, child.info.run_id)
    for child in children:
        assert child.info.status == "FINISHED"
        for key in child.data.metrics:
            steps = sorted(m.step for m in client.get_metric_history(child.info.run_id, key))
            if key.startswith(("train/", "time/", "monitor/grad_norm", "monitor/jsd")):
                assert steps == list(range(1, epochs + 1)), key
            elif key.startswith(("quality/", "monitor/steepness", "monitor/dgrad")):
                assert steps == list(range(epochs + 1)), key
        # artifacts go through the server's proxy: downloadable by any client
        local = client.download_artifacts(
            child.info.run_id, "config/config.yaml", str(tmp_path / child.info.run_id)
        )
        assert "loss:" in Path(local).read_text()
        checkpoint = client.download_artifacts(
            child.info.run_id, "checkpoints/last.pt", str(tmp_path / child.info.run_id)
        )
        assert Path(checkpoint).stat().st_size > 1000
    assert parent.info.status == "FINISHED"


def test_unreachable_server_fails_fast_and_writes_nothing(tmp_path: Path) -> None:
    """Nothing listens: one sentence, exit 2, no checkpoint, no local store."""
    port = free_port()  # nothing listens there
    result = run_cli(
        ["tracking=server", *TINY],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path), "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"},
    )
    assert result.returncode == 2
    assert f"tracking server http://127.0.0.1:{port} is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("checkpoints"))
    assert not (tmp_path / "mlflow.db").exists()


def test_a_dead_server_is_asked_once_not_retried_for_minutes(tmp_path: Path) -> None:
    """Failing fast means one attempt before training, not MLflow's retries with back-off:
    a server that hangs up on every connection is connected to exactly once."""
    with server_that_hangs_up() as (uri, connections):
        result = run_cli(
            ["tracking=server", *TINY],
            cwd=tmp_path,
            env={"GANLAB_ROOT": str(tmp_path), "MLFLOW_TRACKING_URI": uri},
        )
        assert result.returncode == 2, result.stderr[-1500:]
        assert f"tracking server {uri} is unreachable" in result.stderr
        assert len(connections) == 1
    assert not list(tmp_path.rglob("checkpoints"))


def test_tracking_server_option_needs_a_server_url(tmp_path: Path) -> None:
    result = run_cli(["tracking=server", *TINY], cwd=tmp_path, env={"GANLAB_ROOT": str(tmp_path)})
    assert result.returncode == 2
    assert "tracking=server needs a tracking server URL" in result.stderr
