"""The MLflow UI, in a real headless Chromium: a sweep's runs are listed and charted, and
the link ganlab prints opens a run in the model-training view with its verdict.

Needs Debian's `chromium` (`apt-get install chromium`); skipped where it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganlab.tracking import RunTracker
from ganlab.training.run import train
from tests.conftest import compose_tiny
from tests.support import free_port

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str], list]]:
    """A store with a sweep of two runs, served by `mlflow ui` on a free loopback port."""
    root = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    parent = RunTracker.start(uri, "ui", "sweep-ui", {"ganlab.role": "sweep"})
    names, results = [], []
    for seed in (0, 1):
        cfg = compose_tiny(
            [f"seed={seed}", f"tracking.parent_run_id={parent.run_id}"],
            root,
            root / f"run{seed}",
            uri,
            "ui",
        )
        results.append(train(cfg))
        names.append(results[-1].run_name)
    parent.end()
    port = free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    server = subprocess.Popen(
        [
            str(mlflow),
            "ui",
            "--backend-store-uri",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow ui did not start within 90 s")
        yield url, "sweep-ui", names, results
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_ui_lists_the_sweep_runs_and_charts_their_metrics(ui, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, parent_name, child_names, _ = ui
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/#/experiments/1/runs")
        page.get_by_text(parent_name).first.wait_for(timeout=60_000)
        # children are folded under their parent run: unfold them with the one button of
        # the parent's run-name cell (not by MLflow's generated ids, which name source lines)
        parent_row = page.locator('[role="row"]').filter(has_text=parent_name).first
        parent_row.locator('[role="gridcell"][col-id*="Run Name"] button').first.click()
        for name in child_names:
            page.get_by_text(name).first.wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "runs.png"))

        page.get_by_text(child_names[0]).first.click()
        page.get_by_text("Model metrics").first.click()
        page.locator("svg.main-svg").first.wait_for(timeout=60_000)
        page.get_by_placeholder("Search metric charts").fill("hq_fraction")
        page.get_by_text("hq_fraction", exact=True).first.wait_for(timeout=30_000)
        page.wait_for_timeout(2_000)
        assert page.locator("g.trace").count() > 0  # plotted lines, not empty frames
        page.screenshot(path=str(tmp_path / "metrics.png"))
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_printed_link_opens_the_run_in_the_training_view_with_its_verdict(
    ui, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    from ganlab.tracking import run_url

    url, _, _, results = ui
    run = MlflowClient(results[0].tracking_uri).get_run(results[0].run_id)
    link = run_url(url, run.info.experiment_id, run.info.run_id)  # as ganlab prints it
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(link)
        page.get_by_text("ganlab verdict").first.wait_for(timeout=60_000)
        page.get_by_text("phases: fitting from epoch 0").first.wait_for(timeout=10_000)
        page.screenshot(path=str(tmp_path / "run.png"))
        body = page.inner_text("body")
        # the model-training navigation, not the GenAI one (Judges, Playground, Sessions)
        assert "Model registry" in body
        assert "Judges" not in body and "Playground" not in body
        browser.close()
