"""The only module that talks to MLflow.

It turns the trainer's plain dicts into MLflow calls and enforces the rules users rely on:
the embedded store is an absolute path (Hydra jobs may run anywhere), params respect
MLflow's size limits, a resumed run never logs an epoch twice, and a crashed run ends as
FAILED with its reason rather than MLflow's default FINISHED.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ganlab.core.errors import TrackingError
from ganlab.core.secrets import redact

MAX_PARAM_VALUE = 6000
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_TAG_VALUE = 5000
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
FAILURE_TAG = "ganlab.failure"  # why a run ended FAILED or KILLED
MODEL_TRAINING = "custom_model_development"


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


def _create_sqlite_store_once(uri: str, db: Path) -> None:
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


def _local_sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def git_commit(directory: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", directory, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with the fix, when a tracking server does not answer /health, its
    certificate is not trusted, or it refuses our credentials.

    MLflow's client would otherwise retry with back-off for minutes before failing,
    after training time has already been spent.
    """
    url = uri.rstrip("/") + "/health"
    try:
        response = requests.get(url, timeout=timeout, verify=_verify())
    except requests.exceptions.SSLError as exc:
        raise TrackingError(untrusted_certificate(uri, exc)) from exc
    except requests.exceptions.RequestException as exc:
        reason = _short_reason(exc)
        raise TrackingError(
            f"tracking server {redact(uri)} is unreachable ({reason}); start it (docker compose -f "
            "docker/compose.yaml up -d mlflow, or docker/mlflow-server.sh) or point "
            "tracking.uri / MLFLOW_TRACKING_URI at a running one."
        ) from exc
    if response.status_code != 200:
        hint = (
            "; the server refuses this host name: start it with --allowed-hosts including it"
            if response.status_code in (400, 403)
            else ""
        )
        raise TrackingError(
            f"tracking server {uri} answered HTTP {response.status_code} on /health{hint}."
        )
    check_credentials(uri, timeout)


def _short_reason(exc: Exception) -> str:
    """'[Errno 111] Connection refused' out of requests' nested wording."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if found:
        return found.group(0).strip()
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    return text[:160]


def _verify() -> str | bool:
    """What MLflow's client verifies a server's certificate with: the lab's CA when
    MLFLOW_TRACKING_SERVER_CERT_PATH names one, else the system's."""
    return os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or True


def untrusted_certificate(uri: str, exc: Exception) -> str:
    reason = str(exc.__context__ or exc)
    for marker in (
        "certificate has expired",
        "self-signed certificate",
        "unable to get local issuer certificate",
        "Hostname mismatch",
        "IP address mismatch",
    ):
        if marker in reason:
            reason = marker
            break
    else:
        reason = reason[:160]
    return (
        f"the certificate of tracking server {uri} is not trusted ({reason}): if the lab "
        "signs its own, set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA certificate; if it "
        "expired, the server's admin must renew it."
    )


def check_credentials(uri: str, timeout: float = 5.0) -> None:
    """A server with accounts (MLflow's basic-auth app) answers /health to anyone but
    refuses everything else without a valid user: find out before any run exists, with
    the credentials MLflow's client will send (MLFLOW_TRACKING_USERNAME/PASSWORD)."""
    response = requests.get(
        uri.rstrip("/") + "/api/2.0/mlflow/experiments/search",
        params={"max_results": 1},
        auth=_credentials(),
        timeout=timeout,
        verify=_verify(),
    )
    if response.status_code == 401:
        raise TrackingError(not_authenticated(uri))


def _credentials() -> tuple[str, str] | None:
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    return (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", "")) if user else None


def not_authenticated(uri: str) -> str:
    """The one sentence for HTTP 401: which credentials were tried and where they go."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user is None:
        return (
            f"tracking server {uri} needs an account (HTTP 401): set MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD in the environment (never on the command line); "
            "the server's admin creates accounts (docs/guide.md, Sharing the server)."
        )
    return (
        f"tracking server {uri} refused user '{user}' (HTTP 401): check "
        "MLFLOW_TRACKING_PASSWORD (and MLFLOW_TRACKING_USERNAME) in the environment."
    )


def refusal_status(exc: MlflowException) -> int | None:
    """401 or 403 when a server with accounts refused the request, else None (MLflow's
    client puts the status only into its message)."""
    found = re.search(r"error code (401|403)\b", str(exc))
    return int(found.group(1)) if found else None


def describe_refusal(uri: str, experiment: str, exc: MlflowException) -> str | None:
    """One sentence for a refusal by a server with accounts (401, 403), else None."""
    status = refusal_status(exc)
    if status == 401:
        return not_authenticated(uri)
    if status == 403:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "?")
        return (
            f"user '{user}' may not log into experiment '{experiment}' on {uri} (HTTP 403): "
            "ask the server's admin to grant EDIT on it (`ganlab-server grant`), or log to "
            "an experiment of your own (tracking.experiment=<new name>)."
        )
    return None


def check_tracking(uri: str, require_server: bool, timeout: float) -> None:
    """Before any training: is the configured tracking store usable?"""
    if require_server and not is_server(uri):
        raise TrackingError(
            f"tracking=server needs a tracking server URL, got {uri}: set tracking.uri="
            "http://host:5000 or MLFLOW_TRACKING_URI."
        )
    if is_server(uri):
        check_server(uri, timeout)


class RunTracker:
    """One MLflow run. Create with `start` or `reopen`; always finish with `end`."""

    def __init__(
        self, client: MlflowClient, run_id: str, last_logged_step: int = -1, uri: str = ""
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.uri = uri or "the tracking store"
        # A resumed run replays epochs after its checkpoint; those already logged are skipped.
        self.last_logged_step = last_logged_step

    # -- opening ---------------------------------------------------------------------
    @staticmethod
    def connect(uri: str) -> MlflowClient:
        db = _local_sqlite_path(uri)
        if db is not None:
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
                writable = os.access(db.parent, os.W_OK)
            except OSError:
                writable = False
            if not writable:
                raise TrackingError(
                    f"cannot write the tracking store {uri}: folder {db.parent} is not "
                    "writable; set tracking.uri (or paths.root) to a writable location."
                )
            _create_sqlite_store_once(uri, db)
        return MlflowClient(tracking_uri=uri)

    @classmethod
    def start(
        cls,
        uri: str,
        experiment: str,
        run_name: str,
        tags: Mapping[str, str],
        artifact_root: str | None = None,
    ) -> RunTracker:
        """Create a new run in `experiment` (created if needed)."""
        client = cls.connect(uri)
        try:
            experiment_id = cls._experiment_id(client, uri, experiment, artifact_root)
            run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        except MlflowException as exc:
            refused = describe_refusal(uri, experiment, exc)
            raise TrackingError(
                refused or f"cannot create a run in tracking store {uri}: {exc}"
            ) from exc
        return cls(client, run.info.run_id, uri=uri)

    @staticmethod
    def _experiment_id(client: MlflowClient, uri: str, name: str, artifact_root: str | None) -> str:
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        db = _local_sqlite_path(uri)
        if artifact_root is None and db is not None:
            # Next to the store, not in MLflow's default ./mlruns of whatever cwd a job has.
            artifact_root = (db.parent / "mlartifacts").as_uri()
        try:
            # the UI then opens on its "Model training" runs view, not the GenAI overview
            return client.create_experiment(
                name, artifact_location=artifact_root, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING}
            )
        except MlflowException:  # created meanwhile by a concurrent job
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    @classmethod
    def find(cls, uri: str, experiment: str, tags: Mapping[str, str]) -> RunTracker | None:
        """The newest run of `experiment` carrying all of `tags`, or None."""
        client = cls.connect(uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return None
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        try:
            runs = client.search_runs(
                [found.experiment_id], query, max_results=1, order_by=["attributes.start_time DESC"]
            )
        except MlflowException as exc:
            raise TrackingError(f"cannot search runs in {uri}: {exc}") from exc
        return cls(client, runs[0].info.run_id, uri=uri) if runs else None

    @property
    def experiment_id(self) -> str:
        return str(self.client.get_run(self.run_id).info.experiment_id)

    @property
    def experiment_name(self) -> str:
        return str(self.client.get_experiment(self.experiment_id).name)

    @classmethod
    def reopen(cls, uri: str, run_id: str) -> RunTracker:
        """Continue an existing run; remember the last epoch it logged."""
        client = cls.connect(uri)
        run = existing_run(client, uri, run_id)
        run_id = run.info.run_id
        last = max((step for step, _ in metric_history(client, run_id)), default=-1)
        client.update_run(run_id, status="RUNNING")
        if FAILURE_TAG in run.data.tags:  # running again: the old reason no longer holds
            client.delete_tag(run_id, FAILURE_TAG)
        return cls(client, run_id, last_logged_step=last, uri=uri)

    # -- logging ---------------------------------------------------------------------
    @contextmanager
    def _store(self, action: str) -> Iterator[None]:
        """Turn a store failure during training into one sentence saying what to do.

        MLflow's HTTP client has already retried with back-off (MLFLOW_HTTP_REQUEST_MAX_
        RETRIES, 7 by default, about two minutes); an outage shorter than that is
        invisible, a longer one ends up here. Nothing acknowledged before is lost, and the
        checkpoint written after the last acknowledged epoch resumes the run.
        """
        try:
            yield
        except (MlflowException, OSError, requests.exceptions.RequestException) as exc:
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
            raise TrackingError(
                f"lost {self.uri} while {action} ({detail}); what was logged before is kept: "
                "resume with trainer.resume=<output dir> once it is reachable again."
            ) from exc

    def log_params(self, params: Mapping[str, Any]) -> None:
        items = [Param(k[:250], str(v)[:MAX_PARAM_VALUE]) for k, v in params.items()]
        with self._store("logging params"):
            for chunk in _chunks(items, MAX_PARAMS_PER_BATCH):
                self.client.log_batch(self.run_id, params=chunk)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        items = [RunTag(k, str(v)[:MAX_TAG_VALUE]) for k, v in tags.items()]
        with self._store("setting tags"):
            for chunk in _chunks(items, MAX_PARAMS_PER_BATCH):
                self.client.log_batch(self.run_id, tags=chunk)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> bool:
        """Log one epoch's metrics in one batch; skip epochs a resumed run already logged."""
        if step <= self.last_logged_step or not metrics:
            return False
        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        with self._store(f"logging the metrics of epoch {step}"):
            for chunk in _chunks(items, MAX_METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=chunk)
        return True

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        with self._store(f"uploading {artifact_file}"):
            self.client.log_figure(self.run_id, figure, artifact_file)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        with self._store(f"uploading {Path(path).name}"):
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, directory: str | Path, artifact_path: str | None = None) -> None:
        with self._store(f"uploading {directory}"):
            self.client.log_artifacts(self.run_id, str(directory), artifact_path)

    def history(self, keys: Iterable[str] | None = None) -> list[tuple[int, dict[str, float]]]:
        """This run's logged metrics as [(epoch, {key: value})], epochs ascending."""
        return metric_history(self.client, self.run_id, keys)

    # -- reading and amending a finished run (ganlab-eval) ---------------------------
    @classmethod
    def existing(cls, uri: str, run_id: str) -> RunTracker:
        """A run that exists (TrackingError naming the id otherwise), left as it is."""
        client = cls.connect(uri)
        run = existing_run(client, uri, run_id)  # a unique prefix names its run
        return cls(client, run.info.run_id, uri=uri)

    @property
    def info(self) -> Any:
        """The run's MLflow info (name, times, status)."""
        return self.client.get_run(self.run_id).info

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.client.get_run(self.run_id).data.tags)

    def artifact_paths(self, folder: str) -> list[str]:
        """Paths of the files directly in artifact folder `folder`."""
        return [info.path for info in self.client.list_artifacts(self.run_id, folder)]

    def download(self, artifact: str, destination: str | Path) -> Path:
        with self._store(f"downloading {artifact}"):
            return Path(self.client.download_artifacts(self.run_id, artifact, str(destination)))

    def logged_steps(self, key: str) -> set[int]:
        """The steps (epochs) at which `key` has values."""
        return {m.step for m in self.client.get_metric_history(self.run_id, key)}

    def log_metrics_at(self, metrics: Mapping[str, float], step: int, timestamp: int) -> None:
        """Log values at `step` with the given timestamp (a finished run's own end time,
        so values computed later line up with its live curves), even at a logged step."""
        items = [Metric(k, float(v), timestamp, step) for k, v in metrics.items()]
        with self._store(f"logging values at epoch {step}"):
            for chunk in _chunks(items, MAX_METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=chunk)

    def end(self, status: str = "FINISHED", reason: str | None = None) -> None:
        """Mark the run FINISHED, FAILED or KILLED; a reason is kept as tag `ganlab.failure`."""
        if reason:
            self.client.set_tag(self.run_id, FAILURE_TAG, reason[:MAX_TAG_VALUE])
        self.client.set_terminated(self.run_id, status)


FULL_RUN_ID = 32  # hex characters; ganlab's tables print the first 8


def existing_run(client: MlflowClient, uri: str, run_id: str) -> Run:
    """The run `run_id` (or the one run whose id begins with it: the tables print the
    first 8 characters), or TrackingError naming the id, the store and the fix."""
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if 0 < len(run_id) < FULL_RUN_ID:
            matches = [r for r in _all_runs(client) if r.info.run_id.startswith(run_id)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise TrackingError(
                    f"run id {run_id} begins {len(matches)} runs' ids in {redact(uri)} "
                    f"({', '.join(r.info.run_id for r in matches[:3])}); give more of it."
                ) from exc
        raise TrackingError(
            f"run {run_id} not found in tracking store {redact(uri)}; check the id (a full "
            f"id has {FULL_RUN_ID} characters; a shorter one must begin exactly one run's), "
            "or point tracking.uri (--tracking-uri) at the store the run was logged to."
        ) from exc


def _all_runs(client: MlflowClient) -> list[Run]:
    """Every run of every experiment (for resolving a short id)."""
    from mlflow.entities import ViewType

    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return list(client.search_runs(ids, run_view_type=ViewType.ALL, max_results=50_000))


def metric_history(
    client: MlflowClient, run_id: str, keys: Iterable[str] | None = None
) -> list[tuple[int, dict[str, float]]]:
    """[(step, {key: value})] for `keys` (default: every metric the run logged)."""
    if keys is None:
        keys = client.get_run(run_id).data.metrics.keys()
    by_step: dict[int, dict[str, float]] = {}
    for key in keys:
        for m in client.get_metric_history(run_id, key):
            by_step.setdefault(m.step, {})[key] = m.value
    return sorted(by_step.items())


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
        for chunk in _chunks(holding, BULK_RUNS):
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
