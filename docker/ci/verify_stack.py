"""Check that a compose stack's sweep landed where the stack keeps it (compose-check).

Through the tracking server with MLflow's client: the sweep's child runs FINISHED, every
epoch's metrics logged once, every artifact listed. Then behind the server: each run,
and each metric value the client returned, is a row in PostgreSQL; each artifact the
server lists is a file of the same size in the artifact volume. `--save` writes what was
found; `--compare` (after a restart) fails if anything differs from a saved file.

    python docker/ci/verify_stack.py --tracking-uri http://127.0.0.1:15000 \\
        --database postgresql://USER:PASS@127.0.0.1:15432/mlflow \\
        --artifacts /var/lib/docker/volumes/x_artifacts/_data --runs 2 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from mlflow.tracking import MlflowClient

EPOCH_KEY = "train/loss_d"  # logged every epoch by every run


def all_artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[Any]:
    found = []
    for entry in client.list_artifacts(run_id, path):
        found += all_artifacts(client, run_id, entry.path) if entry.is_dir else [entry]
    return found


def wait_for_server(client: MlflowClient, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.search_experiments(max_results=1)
            return
        except Exception:  # noqa: BLE001 - the server is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def inventory(args: argparse.Namespace) -> dict[str, Any]:
    """What the server, the database and the volume hold for the sweep's runs."""
    client = MlflowClient(args.tracking_uri)
    wait_for_server(client)
    experiment = client.get_experiment_by_name(args.experiment)
    assert experiment is not None, f"no experiment {args.experiment!r} on {args.tracking_uri}"
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == args.runs, f"{len(children)} child runs, expected {args.runs}"
    found: dict[str, Any] = {}
    with psycopg.connect(args.database) as db:
        for run in children:
            run_id = run.info.run_id
            assert run.info.status == "FINISHED", f"run {run_id} is {run.info.status}"
            histories = {k: client.get_metric_history(run_id, k) for k in run.data.metrics}
            steps = sorted(m.step for m in histories[EPOCH_KEY])
            assert steps == list(range(1, args.epochs + 1)), f"{run_id}: epochs {steps}"
            points = sum(map(len, histories.values()))
            status, rows = db.execute(
                "select status, (select count(*) from metrics m where m.run_uuid = r.run_uuid)"
                " from runs r where r.run_uuid = %s",
                (run_id,),
            ).fetchone()
            assert status == "FINISHED", f"PostgreSQL holds run {run_id} as {status}"
            assert rows == points, f"{run_id}: {rows} metric rows in PostgreSQL, {points} served"
            artifacts = all_artifacts(client, run_id)
            assert artifacts, f"run {run_id} has no artifacts"
            # mlflow-artifacts:/<experiment>/<run>/artifacts -> that folder in the volume
            relative = run.info.artifact_uri.split(":", 1)[1].lstrip("/")
            for artifact in artifacts:
                on_disk = Path(args.artifacts) / relative / artifact.path
                assert on_disk.is_file(), f"{artifact.path} of {run_id} is not in the volume"
                assert on_disk.stat().st_size == artifact.file_size, f"{on_disk}: size differs"
            found[run_id] = {
                "name": run.info.run_name,
                "metric_points": points,
                "artifacts": sorted((a.path, a.file_size) for a in artifacts),
            }
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--database", required=True, help="the backend store's PostgreSQL URI")
    parser.add_argument("--artifacts", required=True, help="the artifact volume's folder")
    parser.add_argument("--experiment", default="ganlab")
    parser.add_argument("--runs", type=int, required=True, help="child runs the sweep made")
    parser.add_argument("--epochs", type=int, required=True, help="epochs of each run")
    parser.add_argument("--save", help="write what was found to this JSON file")
    parser.add_argument("--compare", help="fail unless what is found equals this JSON file")
    args = parser.parse_args()
    try:
        found = inventory(args)
    except AssertionError as exc:
        print(f"verify_stack: {exc}", file=sys.stderr)
        return 1
    files = sum(len(run["artifacts"]) for run in found.values())
    points = sum(run["metric_points"] for run in found.values())
    print(
        f"verify_stack: {len(found)} runs FINISHED, {points} metric values in PostgreSQL, "
        f"{files} artifacts in the volume"
    )
    if args.save:
        Path(args.save).write_text(json.dumps(found, indent=1, sort_keys=True))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        now = json.loads(json.dumps(found, sort_keys=True))  # tuples -> lists, as saved
        if now != before:
            print(
                "verify_stack: the stack lost or changed something across the restart",
                file=sys.stderr,
            )
            return 1
        print(f"verify_stack: identical to what {args.compare} recorded before")
    return 0


if __name__ == "__main__":
    sys.exit(main())
