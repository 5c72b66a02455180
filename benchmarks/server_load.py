"""How much one tracking server takes: N runs at once, each logging every epoch.

Each run is a process of its own that logs the way a ganlab run does (ganlab.tracking's
RunTracker: the run created with its tags, then one batch of metrics per epoch, then the
run ended), so the server sees what a sweep of N jobs would send it without the training
in between (the worst case: real epochs take seconds). All N processes create their runs,
wait at a barrier, then log as fast as the server answers. Afterwards every metric of
every run is read back: each (key, step) must hold its value exactly once.

Reported per N: runs/s and metric values/s over the logging phase, the p50/p99 latency of
one log call (a batch of `--keys` values), and what was lost (must be 0).

Against the compose stack with accounts, through its HTTPS proxy (compose-check leaves it
up with COMPOSE_CHECK_KEEP=1):

    MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=ci-only-admin-password \\
    MLFLOW_TRACKING_SERVER_CERT_PATH=/tmp/ganlab-ci-tls/ca.crt \\
        .venv/bin/python benchmarks/server_load.py --tracking-uri https://127.0.0.1:15443 \\
        --database postgresql://ganlab:ci-only-password@127.0.0.1:15432/mlflow

Only loopback addresses are accepted; every process has a deadline (--timeout).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def value(run: int, step: int, key: int) -> float:
    return run * 1000.0 + step + key / 100.0


def one_run(
    uri: str, experiment: str, index: int, epochs: int, keys: int, barrier, timeout: float
) -> dict:
    """Create a run, wait for the others, log `epochs` batches; the latencies (s)."""
    import os

    from ganlab.tracking import RunTracker

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - MLflow prints a line per ended run

    tracker = RunTracker.start(uri, experiment, f"load-{index}", {"benchmark": "server_load"})
    barrier.wait(timeout=timeout)
    latencies = []
    deadline = time.monotonic() + timeout
    for step in range(1, epochs + 1):
        metrics = {f"load/m{k:02d}": value(index, step, k) for k in range(keys)}
        started = time.perf_counter()
        tracker.log_metrics(metrics, step)
        latencies.append(time.perf_counter() - started)
        if time.monotonic() > deadline:
            break
    tracker.end()
    return {"run_id": tracker.run_id, "index": index, "latencies": latencies}


def lost_values(uri: str, results: list[dict], epochs: int, keys: int) -> int:
    """(key, step) pairs not holding exactly their one value."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    lost = 0
    for result in results:
        for k in range(keys):
            history = client.get_metric_history(result["run_id"], f"load/m{k:02d}")
            logged = sorted((m.step, m.value) for m in history)
            expected = [(s, value(result["index"], s, k)) for s in range(1, epochs + 1)]
            lost += len(set(expected) ^ set(logged)) + (len(logged) - len(set(logged)))
    return lost


def server_settings(database: str | None) -> str:
    if not database:
        return "PostgreSQL settings not read (pass --database)"
    import psycopg

    with psycopg.connect(database) as db:
        limit = db.execute("show max_connections").fetchone()[0]
        used = db.execute("select count(*) from pg_stat_activity").fetchone()[0]
    return f"PostgreSQL max_connections {limit}, {used} connections open after the load"


def measure(uri: str, n: int, epochs: int, keys: int, timeout: float) -> dict:
    context = mp.get_context("spawn")
    manager = context.Manager()  # a barrier the pool's workers can be handed
    barrier = manager.Barrier(n + 1)
    experiment = f"server-load-{uuid.uuid4().hex[:8]}"
    with manager, context.Pool(n) as pool:
        pending = pool.starmap_async(
            one_run, [(uri, experiment, i, epochs, keys, barrier, timeout) for i in range(n)]
        )
        barrier.wait(timeout=timeout)  # every run exists: logging starts now
        started = time.perf_counter()
        results = pending.get(timeout=timeout)
        wall = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r["latencies"])
    values = sum(len(r["latencies"]) for r in results) * keys
    return {
        "n": n,
        "runs_per_s": n / wall,
        "values_per_s": values / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "lost": lost_values(uri, results, epochs, keys),
        "wall_s": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--runs", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--epochs", type=int, default=20, help="logged batches per run")
    parser.add_argument("--keys", type=int, default=30, help="metrics per batch (a run: ~30-60)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per N, seconds")
    parser.add_argument("--database", help="the backend store, to report its settings")
    args = parser.parse_args(argv)
    host = urlparse(args.tracking_uri).hostname
    if host not in LOOPBACK:
        parser.error(f"{args.tracking_uri}: this benchmark only talks to loopback addresses")
    from ganlab.tracking import check_server

    check_server(args.tracking_uri)
    print(f"{args.tracking_uri}: {args.epochs} batches of {args.keys} values per run")
    print("| runs at once | runs/s | metric values/s | log call p50 | log call p99 | lost |")
    print("|---|---|---|---|---|---|")
    lost = 0
    for n in args.runs:
        r = measure(args.tracking_uri, n, args.epochs, args.keys, args.timeout)
        lost += r["lost"]
        print(
            f"| {n} | {r['runs_per_s']:.2f} | {r['values_per_s']:.0f} | {r['p50_ms']:.0f} ms "
            f"| {r['p99_ms']:.0f} ms | {r['lost']} |",
            flush=True,
        )
    print(server_settings(args.database))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
