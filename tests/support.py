"""What several test modules need, written once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ganlab.core.errors import ConfigError
from ganlab.core.paths import PROJECT_ROOT
from ganlab.launch.cli import _overrides
from ganlab.launch.overrides import check_overrides


def check_command_line(args: list[str]) -> str | None:
    """The one sentence `ganlab-train args` would refuse them with, or None: the check
    ganlab-train makes before Hydra starts."""
    try:
        check_overrides(_overrides(args), any(a in ("-m", "--multirun") for a in args))
    except ConfigError as exc:
        return str(exc)
    return None


def assert_same_state(actual: object, expected: object, where: str = "checkpoint") -> None:
    """Two checkpoint trees equal to the last bit: every tensor (networks, optimiser
    moments, random state, EMA) with torch.equal, every other value with ==."""
    import torch

    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_same_state(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_state(a, e, f"{where}[{index}]")
    elif isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor) and torch.equal(actual, expected), where
    else:
        assert actual == expected, where


def logged_values(client, run_id: str) -> dict[str, list[tuple[int, float]]]:  # noqa: ANN001
    """Every metric a run logged as (step, value) pairs, except wall-clock times."""
    run = client.get_run(run_id)
    return {
        key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        for key in run.data.metrics
        if not key.startswith("time/")
    }


# The fields a ring8 run's stored `dataset` node carried besides a ring's own before each
# dataset variant had its node (runs stored up to a34abf7), at the defaults they had then.
OTHER_VARIANTS_THEN = {
    "spacing": 2.0, "inner_radius": 0.5, "turns": 1.5, "centers": None, "split": "train",
    "download": True, "subset": None, "subset_seed": 0, "path": None, "image_size": 32,
    "channels": 3,
}  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER_SCRIPT = PROJECT_ROOT / "docker" / "mlflow-server.sh"


def start_tracking_server(
    folder: Path, port: int, backend: str, wait: float = 120.0, extra_env: dict | None = None
) -> subprocess.Popen:
    """docker/mlflow-server.sh on 127.0.0.1:`port` with `backend` as its store (its own
    session, logging into `folder`; `extra_env` adds settings such as MLFLOW_AUTH), once
    its /health answers; AssertionError if it exits or does not answer within `wait` s."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_BACKEND_STORE_URI": backend,
        "MLFLOW_ARTIFACTS_DESTINATION": str(folder / "artifacts"),
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        **(extra_env or {}),
    }
    log_path = folder / f"server-{time.time_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["sh", str(SERVER_SCRIPT)], env=env, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"the server exited: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.5)
    stop_tracking_server(process)
    raise AssertionError(f"the tracking server did not answer within {wait:.0f} s")


def stop_tracking_server(process: subprocess.Popen, signal_number: int = 15) -> None:
    """Stop the server's whole session (gunicorn's workers too)."""
    os.killpg(process.pid, signal_number)
    process.wait(timeout=30)


@contextmanager
def server_that_hangs_up() -> Iterator[tuple[str, list[int]]]:
    """A 127.0.0.1 port that accepts every connection and closes it at once: a dead
    tracking server behind a live socket. Yields its URL and a list that grows by one per
    connection, so a test counts how often a command tried (no clock involved)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    connections: list[int] = []
    done = threading.Event()

    def hang_up_on_everyone() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            connection.close()

    thread = threading.Thread(target=hang_up_on_everyone, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", connections
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()


def artifact_paths(client, run_id: str, path: str | None = None) -> set[str]:  # noqa: ANN001
    """Every artifact path of a run, folders walked."""
    found: set[str] = set()
    for info in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, info.path) if info.is_dir else {info.path}
    return found


def final_weights(path: Path) -> dict:
    """The generator's weights in a checkpoint."""
    from ganlab.training.checkpoint import load_checkpoint

    return load_checkpoint(path)["trainer"]["generator"]


def assert_online_equals_replay(rows: list, cfg) -> list[float]:  # noqa: ANN001
    """Feed `rows` to the online stopper epoch by epoch; its first trigger (epoch and
    cause) and its phase per epoch must be what a replay of the whole history finds.
    Returns the online phases."""
    from ganlab.rules import EarlyStopper, apply_rule

    stopper = EarlyStopper(cfg)
    online_trigger, online_phases = None, []
    for epoch, metrics in rows:
        logged = stopper.update(epoch, metrics)
        online_phases.append(logged["phase"])
        if stopper.triggered and online_trigger is None:
            timeline = stopper.timeline
            online_trigger = (epoch, timeline.cause)
    replay = apply_rule(rows, cfg)
    expected = None if replay.trigger_epoch is None else (replay.trigger_epoch, replay.cause)
    assert online_trigger == expected
    assert online_phases == [float(replay.phase_at(e)) for e, _ in rows]
    return online_phases
