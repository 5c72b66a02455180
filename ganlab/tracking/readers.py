"""Reading stored runs back in bulk: their metric histories (one request per 100 runs and
25,000 values where the store allows it), tags and checkpoints, for replay, comparison
and the benchmark."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ganlab.core.errors import TrackingError
from ganlab.tracking.runs import RunTracker, chunks, existing_run, metric_history


def fetch_run_checkpoint(uri: str, run_id: str, artifact: str, destination: Path) -> Path:
    """The run's checkpoint: its local file if still there, else the logged artifact."""
    client = RunTracker.connect(uri)
    local = existing_run(client, uri, run_id).data.tags.get("ganlab.checkpoint")
    if local and Path(local).is_file():
        return Path(local)
    try:
        destination.mkdir(parents=True, exist_ok=True)
        return Path(client.download_artifacts(run_id, artifact, str(destination)))
    except (MlflowException, OSError) as exc:
        raise TrackingError(
            f"run {run_id} has no checkpoint: neither {local} nor the artifact {artifact} "
            "exists; resume from an output directory instead."
        ) from exc


BULK_RUNS = 100  # run ids per bulk request (MLflow's server accepts at most 100)
BULK_ROWS = 25_000  # values per bulk request (its cap too)


Rows = list[tuple[str, int, float]]  # (run id, step, value)


def _bulk_reader(client: MlflowClient) -> Callable[[list[str], str], Rows] | None:
    """(run ids, key) -> [(run id, step, value)] in one round trip, oldest first, for the
    stores that can: SQL stores (`get_metric_history_bulk`) and tracking servers (the
    `get-history-bulk` endpoint MLflow's UI charts use); None for the others."""
    store: Any = getattr(getattr(client, "_tracking_client", None), "store", None)
    if hasattr(store, "get_metric_history_bulk"):

        def sql(run_ids: list[str], key: str) -> Rows:
            rows = store.get_metric_history_bulk(
                run_ids=run_ids, metric_key=key, max_results=BULK_ROWS
            )
            return [(row.run_id, row.step, row.value) for row in rows]

        return sql
    if hasattr(store, "get_host_creds"):
        from mlflow.utils.rest_utils import http_request

        def rest(run_ids: list[str], key: str) -> Rows:
            response = http_request(
                store.get_host_creds(),
                "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                "GET",
                params={"run_id": run_ids, "metric_key": key, "max_results": BULK_ROWS},
            )
            response.raise_for_status()
            rows = response.json().get("metrics", [])
            return [(r["run_id"], int(r.get("step", 0)), float(r["value"])) for r in rows]

        return rest
    return None


def metric_histories(
    client: MlflowClient, runs: Sequence[Any]
) -> dict[str, list[tuple[int, dict[str, float]]]]:
    """Every metric history of `runs` (search_runs results) with few store round trips.

    SQL stores (SQLite, PostgreSQL) and tracking servers answer one request per metric key
    for up to 100 runs (the bulk call behind MLflow's own UI charts); other stores fall
    back to one request per run and key. 100 runs x 60 keys: 60 requests instead of 6,000
    (benchmarks/README.md)."""
    bulk = _bulk_reader(client)
    if bulk is None:
        return {
            run.info.run_id: metric_history(client, run.info.run_id, run.data.metrics.keys())
            for run in runs
        }
    by_run: dict[str, dict[int, dict[str, float]]] = {run.info.run_id: {} for run in runs}
    keys = sorted({key for run in runs for key in run.data.metrics})
    for key in keys:
        holding = [run for run in runs if key in run.data.metrics]
        for chunk in chunks(holding, BULK_RUNS):
            rows = None
            if sum(_latest_step(run, key) + 1 for run in chunk) < BULK_ROWS:
                rows = bulk([run.info.run_id for run in chunk], key)
            if rows is None or len(rows) >= BULK_ROWS:  # (maybe) cut at the cap: per run
                rows = [
                    (run.info.run_id, m.step, m.value)
                    for run in chunk
                    for m in client.get_metric_history(run.info.run_id, key)
                ]
            for run_id, step, value in rows:  # oldest first: a value logged again wins
                by_run[run_id].setdefault(step, {})[key] = value
    return {run_id: sorted(steps.items()) for run_id, steps in by_run.items()}


def _latest_step(run: Any, key: str) -> int:
    """The step of the run's latest value of `key` (search_runs returns it)."""
    metric = next((m for m in run.data._metric_objs if m.key == key), None)
    return int(metric.step) if metric is not None else 0


@dataclass
class StoredRun:
    """An ended run as stored: identity, tags, params and its whole metric history."""

    run_id: str
    name: str
    status: str
    tags: dict[str, str]
    params: dict[str, str]
    history: list[tuple[int, dict[str, float]]]


def load_runs(
    uri: str,
    experiment: str,
    filter_string: str = "",
    run_ids: Iterable[str] = (),
    include_running: bool = False,
    skip_names: Iterable[str] = (),
) -> list[StoredRun]:
    """Every ended run of `experiment` matching the MLflow filter, oldest first.

    `include_running` also returns runs still marked RUNNING (or whose process died);
    runs named in `skip_names` are left out before their histories are read."""
    client = RunTracker.connect(uri)
    try:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise TrackingError(
                f"experiment '{experiment}' does not exist in tracking store {uri}; "
                "check --experiment and --tracking-uri."
            )
        ended = "" if include_running else "attributes.status != 'RUNNING'"
        query = " and ".join(q for q in (filter_string, ended) if q)
        runs: list[Run] = list(
            client.search_runs(
                [found.experiment_id],
                query,
                max_results=50_000,
                order_by=["attributes.start_time ASC"],
            )
        )
    except MlflowException as exc:
        raise TrackingError(f"cannot search runs in {uri}: {exc}") from exc
    wanted, skipped = set(run_ids), set(skip_names)
    runs = [
        run
        for run in runs
        if (not wanted or run.info.run_id in wanted) and run.info.run_name not in skipped
    ]
    histories = metric_histories(client, runs)
    return [
        StoredRun(
            run.info.run_id,
            run.info.run_name,
            run.info.status,
            dict(run.data.tags),
            dict(run.data.params),
            histories[run.info.run_id],
        )
        for run in runs
    ]
