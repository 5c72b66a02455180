"""`tracking.*`: the MLflow store and experiment a run logs to."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option


@dataclass
class TrackingConfig:
    """Where runs are logged. `uri: null` means $MLFLOW_TRACKING_URI, else the embedded store."""

    uri: str | None = option(
        None,
        "MLflow tracking URI; null = $MLFLOW_TRACKING_URI, else sqlite:///<paths.root>/mlflow.db",
    )
    experiment: str = option("ganlab", "MLflow experiment name (created on first use)")
    run_name: str | None = option(None, "null = `<loss>-<dataset>-s<seed>`, e.g. ns-ring8-s0")
    parent_run_id: str | None = option(
        None,
        "MLflow run this run is a child of; in a sweep, the run its sweep's parent run is a "
        "child of (the jobs are children of the sweep's parent)",
    )
    require_server: bool = option(False, "refuse anything but an http(s) tracking server")
    check_timeout: float = option(
        5.0, "seconds to wait for a tracking server's /health at start-up", gt=0
    )
    log_checkpoint: bool = option(True, "upload the final checkpoint as an artifact")
    tags: dict[str, str] = option(
        doc="extra MLflow tags for the run, e.g. `+tracking.tags.project=phases` (the "
        "collapse benchmark's scenarios name their family and scenario here)",
        factory=dict,
    )

    def __post_init__(self) -> None:
        check_fields(self, "tracking")
