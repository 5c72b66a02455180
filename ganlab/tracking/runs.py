"""One MLflow run written by ganlab: RunTracker creates or reopens it, logs params, tags,
metrics and artifacts within MLflow's limits (a resumed run never logs an epoch twice) and
ends it truthfully (FAILED or KILLED with the reason)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ganlab.core.errors import TrackingError
from ganlab.core.secrets import redact
from ganlab.tracking.server import describe_refusal
from ganlab.tracking.store import create_sqlite_store_once, local_sqlite_path

MAX_PARAM_VALUE = 6000
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_TAG_VALUE = 5000
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
FAILURE_TAG = "ganlab.failure"  # why a run ended FAILED or KILLED
MODEL_TRAINING = "custom_model_development"


def chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
        db = local_sqlite_path(uri)
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
            create_sqlite_store_once(uri, db)
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
        db = local_sqlite_path(uri)
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
            for chunk in chunks(items, MAX_PARAMS_PER_BATCH):
                self.client.log_batch(self.run_id, params=chunk)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        items = [RunTag(k, str(v)[:MAX_TAG_VALUE]) for k, v in tags.items()]
        with self._store("setting tags"):
            for chunk in chunks(items, MAX_PARAMS_PER_BATCH):
                self.client.log_batch(self.run_id, tags=chunk)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> bool:
        """Log one epoch's metrics in one batch; skip epochs a resumed run already logged."""
        if step <= self.last_logged_step or not metrics:
            return False
        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        with self._store(f"logging the metrics of epoch {step}"):
            for chunk in chunks(items, MAX_METRICS_PER_BATCH):
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
            for chunk in chunks(items, MAX_METRICS_PER_BATCH):
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
            matches = [r for r in all_runs(client) if r.info.run_id.startswith(run_id)]
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


def all_runs(client: MlflowClient) -> list[Run]:
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
