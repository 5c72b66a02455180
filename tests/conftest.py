"""Shared fixtures: the real config tree, shrunk so a run takes a second or two.

One SQLite tracking store serves the whole session (creating its schema takes seconds);
each test logs into its own experiment so tests never see each other's runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from ganlab.config import register
from ganlab.core.paths import CONF_DIR, PROJECT_ROOT

# Property tests keep nothing in the project folder (Hypothesis's .hypothesis/)
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="ganlab-hypothesis-"))
settings.register_profile("ganlab", database=None)
settings.load_profile("ganlab")

# Small enough for CPU tests, large enough that every code path runs.
TINY = [
    "trainer.epochs=3",
    "trainer.steps_per_epoch=5",
    "trainer.batch_size=32",
    "trainer.progress=none",
    "monitor.quality.n_samples=200",
    "monitor.quality.min_count=2",
    "monitor.prdc.n_samples=200",
    "monitor.scatter.every_n_epochs=2",
    "monitor.scatter.n_samples=100",
    "monitor.eval_latents=128",
    "monitor.dgrad.n_real=128",
    "monitor.duality_gap.steps=10",
    "monitor.duality_gap.n_eval=200",
    "monitor.duality_gap.batch_size=64",
    "early_stop.warmup_epochs=1",
    "early_stop.patience=1",
    "early_stop.window=1",
]


@pytest.fixture(autouse=True)
def test_look_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:  # noqa: ANN001
    """Every test's looks at sealed scores go to a log of its own, marked as a test's
    (ganlab.study.looks): a test never writes the project's record of looks. Commands a
    test starts inherit it through the environment."""
    from ganlab.study.looks import TEST_LOG_ENV

    path = tmp_path_factory.mktemp("looks") / "looks.md"
    monkeypatch.setenv(TEST_LOG_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    store = tmp_path_factory.mktemp("store")
    return f"sqlite:///{store / 'mlflow.db'}"


@pytest.fixture
def experiment(request: pytest.FixtureRequest) -> str:
    return request.node.name


def compose_tiny(
    overrides: Sequence[str], root: Path, output_dir: Path, tracking_uri: str, experiment: str
) -> DictConfig:
    """Compose conf/config.yaml with TINY + `overrides`, writing only under `root`."""
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                *TINY,
                f"paths.root='{root}'",
                f"paths.output_dir='{output_dir}'",
                f"tracking.uri='{tracking_uri}'",
                f"tracking.experiment='{experiment}'",
                *overrides,
            ],
        )
    GlobalHydra.instance().clear()
    return cfg


@pytest.fixture
def make_cfg(
    tmp_path: Path, tracking_uri: str, experiment: str
) -> Iterator[Callable[..., DictConfig]]:
    """compose_tiny for this test: its own folder and its own MLflow experiment."""
    counter = {"n": 0}

    def _make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        counter["n"] += 1
        out = output_dir or tmp_path / f"run{counter['n']}"
        return compose_tiny(overrides, tmp_path, out, tracking_uri, experiment)

    yield _make


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


def metric_steps(client: MlflowClient, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def metric_by_step(client: MlflowClient, run_id: str, key: str) -> dict[int, float]:
    """{epoch: value} of `key` as the run logged it."""
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


def metric_values(client: MlflowClient, run_id: str, key: str) -> list[float]:
    return [m.value for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def run_cli(
    args: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    command: str = "ganlab-train",
) -> subprocess.CompletedProcess:
    """Run a ganlab command as a user would, in `cwd` (ganlab-train as `python -m ganlab`,
    the others as the console scripts installed beside this Python)."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update({"PYTHONPATH": str(PROJECT_ROOT), **(env or {})})
    if command == "ganlab-train":
        argv = [sys.executable, "-m", "ganlab", *args]
    elif command == "python":
        argv = [sys.executable, *args]
    else:
        argv = [str(Path(sys.executable).parent / command), *args]
    return subprocess.run(
        argv,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """`ganlab-train` started in the background (to be killed or awaited); stderr piped.

    It gets SIGINT's default action, as a command typed at a terminal has: a shell that
    runs the tests in the background (`make test &`) hands its children SIGINT ignored,
    and Python then never turns Ctrl-C into KeyboardInterrupt."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update({"PYTHONPATH": str(PROJECT_ROOT), **env})
    return subprocess.Popen(
        [sys.executable, "-m", "ganlab", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


# -- skips: listed at the end of every run; under CI (CI=true) any skip fails the run -----
# A check that cannot run on this machine (no Chromium, no SLURM daemons, no tmpfs mount,
# no PostgreSQL) skips with its reason. Locally that is fine and the list below says what
# did not run; in CI a skipped check would be a green run that hides it, so it fails.
_SKIPPED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append((report.nodeid, str(reason).removeprefix("Skipped: ")))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A whole module skipped while it is collected (a module-level importorskip) is a
    skipped check like any other."""
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append((report.nodeid, str(reason).removeprefix("Skipped: ")))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not _SKIPPED:
        return
    ci = os.environ.get("CI", "").lower() == "true"
    title = "checks skipped (CI=true: every check must run)" if ci else "checks skipped here"
    terminalreporter.section(title)
    for nodeid, reason in _SKIPPED:
        terminalreporter.write_line(f"{nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # 5: nothing ran at all (every module skipped while collected)
    if _SKIPPED and os.environ.get("CI", "").lower() == "true" and exitstatus in (0, 5):
        session.exitstatus = 1
        print(
            f"\nCI=true: {len(_SKIPPED)} check(s) skipped, which CI must run; first: "
            f"{_SKIPPED[0][0]}: {_SKIPPED[0][1]}",
            file=sys.stderr,
        )
