"""Where runs are stored: the tracking URI (an embedded SQLite file made absolute, or a
server), the SQLite store created once, and how to look at a run (its UI link)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient


def resolve_tracking_uri(configured: str | None, root: str) -> str:
    """Config value, else $MLFLOW_TRACKING_URI, else sqlite:///<root>/mlflow.db (absolute).

    A relative sqlite path is made absolute against the launch directory, so every job of
    a sweep writes to the same file whatever its working directory.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or ""
    if not uri:
        return f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


UI_VIEW = "workflowType=machine_learning"  # MLflow 3 opens its GenAI view without it


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """A link to the run's page in the MLflow UI at `base`, in the model-training view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{UI_VIEW}"


def ui_hint(uri: str, experiment_id: str, run_id: str) -> str:
    """How to look at a run: its URL on a tracking server, or the `mlflow ui` command
    (the venv's own executable, which may not be on PATH) and the URL it will serve."""
    if is_server(uri):
        return run_url(uri, experiment_id, run_id)
    executable = Path(sys.executable).parent / "mlflow"
    command = str(executable) if executable.is_file() else "mlflow"
    local = run_url("http://127.0.0.1:5000", experiment_id, run_id)
    return f"{command} ui --backend-store-uri {uri}   then open {local}"


def create_sqlite_store_once(uri: str, db: Path) -> None:
    """Create a new SQLite store's schema in one process at a time.

    MLflow creates the tables when a client first touches a new file; several processes
    doing so at once (jobs started together with `&`, tmux panes, a launcher) race, and
    all but one fail ("table ... already exists", alembic version errors). An exclusive
    lock on `<db>.lock` serialises every process's first touch of the store (a file of
    nonzero size may still be half-created, so size proves nothing); it costs one small
    query per connection.
    """
    import fcntl

    with open(db.with_name(db.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def local_sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))
