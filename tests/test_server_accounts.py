"""A tracking server with accounts (MLflow's basic-auth app, `MLFLOW_AUTH=true
docker/mlflow-server.sh`): what a lab member meets, from ganlab-train and ganlab-server.

The server runs natively on a free loopback port with SQLite stores; the admin password
and the users' passwords reach every process through the environment only."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY, run_cli
from tests.support import free_port, start_tracking_server, stop_tracking_server

ADMIN_PASSWORD = "adm1n-" + os.urandom(6).hex()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    auth = {
        "MLFLOW_AUTH": "true",
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(),
        "MLFLOW_AUTH_DATABASE_URI": f"sqlite:///{tmp_path / 'auth.db'}",
    }
    process = start_tracking_server(
        tmp_path, port, f"sqlite:///{tmp_path / 'runs.db'}", extra_env=auth
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_tracking_server(process)


def as_user(user: str | None, password: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    if user is not None:
        env |= {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
    return env


def train(
    uri: str, experiment: str, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    return run_cli(
        [*TINY, "trainer.epochs=2", f"tracking.uri={uri}", f"tracking.experiment={experiment}"],
        tmp_path,
        env=env,
    )


def server_admin(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ganlab.launch.server_admin", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def runs_of(uri: str, experiment: str) -> list:
    admin = MlflowClient(uri)
    found = admin.get_experiment_by_name(experiment)
    return [] if found is None else admin.search_runs([found.experiment_id])


@pytest.mark.slow
def test_accounts_refuse_strangers_and_keep_experiments_apart(
    server: str, tmp_path: Path, monkeypatch
) -> None:
    # no account, or a wrong password: one line naming the variables, exit 2, no run
    for env, expected in [
        (as_user(None), "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
        (
            as_user("admin", "wrong"),
            "refused user 'admin' (HTTP 401): check MLFLOW_TRACKING_PASSWORD",
        ),
    ]:
        refused = train(server, "lab", tmp_path, env)
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert expected in refused.stderr
        assert len(refused.stderr.strip().splitlines()[-1]) < 400
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    assert runs_of(server, "lab") == []

    # the admin trains; the password is in no param or tag
    admin = as_user("admin", ADMIN_PASSWORD)
    done = train(server, "lab", tmp_path, admin)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = runs_of(server, "lab")
    assert run.info.status == "FINISHED"
    assert ADMIN_PASSWORD not in repr(run.data.params) + repr(run.data.tags)
    steps = sorted(
        m.step for m in MlflowClient(server).get_metric_history(run.info.run_id, "train/loss_g")
    )
    assert steps == [1, 2]

    # a second user, made with ganlab-server: may not log into the admin's experiment
    made = server_admin(
        ["--tracking-uri", server, "add-user", "alice"],
        admin | {"GANLAB_NEW_PASSWORD": "al1ce-password"},
    )
    assert made.returncode == 0, made.stderr
    alice = as_user("alice", "al1ce-password")
    kept_out = train(server, "lab", tmp_path, alice)
    assert kept_out.returncode == 2, kept_out.stderr[-2000:]
    assert "user 'alice' may not log into experiment 'lab'" in kept_out.stderr
    assert len(runs_of(server, "lab")) == 1
    # ... nor add users herself
    self_made = server_admin(
        ["--tracking-uri", server, "add-user", "mallory"],
        alice | {"GANLAB_NEW_PASSWORD": "m4llory-password"},
    )
    assert self_made.returncode == 2 and "needs an admin account" in self_made.stderr

    # granted EDIT, she can
    granted = server_admin(["--tracking-uri", server, "grant", "alice", "lab"], admin)
    assert granted.returncode == 0, granted.stderr
    assert train(server, "lab", tmp_path, alice).returncode == 0
    assert sorted(r.info.status for r in runs_of(server, "lab")) == ["FINISHED", "FINISHED"]


@pytest.mark.slow
def test_credentials_in_the_tracking_uri_are_stored_nowhere(server: str, tmp_path: Path) -> None:
    """`tracking.uri=http://admin:PASSWORD@host:port`, as lab wikis write it: the run logs
    in with them, and no param, tag, config file, Hydra file, checkpoint, log line or
    message holds the password."""
    with_password = server.replace("http://", f"http://admin:{ADMIN_PASSWORD}@")
    done = run_cli(
        [
            *TINY,
            "trainer.epochs=2",
            f"tracking.uri={with_password}",
            "tracking.experiment=wiki",
            f"hydra.run.dir={tmp_path / 'out'}",
            "tracking.log_checkpoint=true",
        ],
        tmp_path,
        env=as_user(None),  # the URI is the only place the credentials are given
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert ADMIN_PASSWORD not in done.stdout + done.stderr
    admin = MlflowClient(server)
    os.environ.update(as_user("admin", ADMIN_PASSWORD))
    try:
        (run,) = runs_of(server, "wiki")
        assert run.data.params["tracking.uri"] == server
        assert ADMIN_PASSWORD not in repr(run.data.params) + repr(run.data.tags)
        artifacts = tmp_path / "artifacts"
        admin.download_artifacts(run.info.run_id, "", str(artifacts))
    finally:
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key, None)
    files = [
        p for folder in (artifacts, tmp_path / "out") for p in folder.rglob("*") if p.is_file()
    ]
    assert any(p.name == "config.yaml" for p in files) and any(p.suffix == ".pt" for p in files)
    assert any(p.name == "overrides.yaml" for p in files)
    for path in files:
        assert ADMIN_PASSWORD.encode() not in path.read_bytes(), path
    # and where the server cannot be reached, the message names it without them
    unreachable = run_cli(
        [*TINY, f"tracking.uri=http://admin:{ADMIN_PASSWORD}@127.0.0.1:9"],
        tmp_path,
        env=as_user(None),
    )
    assert unreachable.returncode == 2
    assert "http://127.0.0.1:9" in unreachable.stderr and ADMIN_PASSWORD not in unreachable.stderr
