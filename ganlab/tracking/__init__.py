"""The only package that talks to MLflow, one module per job.

It turns the trainer's plain dicts into MLflow calls and enforces the rules users rely on:
the embedded store is an absolute path (Hydra jobs may run anywhere; `store`), a server
is checked before any training, with one sentence per way it can fail (`server`), params
respect MLflow's size limits, a resumed run never logs an epoch twice, and a crashed run
ends as FAILED with its reason rather than MLflow's default FINISHED (`runs`); stored runs
are read back in bulk for replay, comparison and the benchmark (`readers`); accounts on a
server with basic auth (`accounts`). The names below are the package's interface.
"""

from __future__ import annotations

from ganlab.tracking.readers import StoredRun, fetch_run_checkpoint, load_runs, metric_histories
from ganlab.tracking.runs import FAILURE_TAG, RunTracker, metric_history
from ganlab.tracking.server import check_server, check_tracking
from ganlab.tracking.store import is_server, resolve_tracking_uri, run_url, ui_hint

__all__ = [
    "FAILURE_TAG",
    "RunTracker",
    "StoredRun",
    "check_server",
    "check_tracking",
    "fetch_run_checkpoint",
    "is_server",
    "load_runs",
    "metric_histories",
    "metric_history",
    "resolve_tracking_uri",
    "run_url",
    "ui_hint",
]
