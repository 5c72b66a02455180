"""make demo: three runs (healthy, collapsing, never fitting) as one sweep, the figure of
the three side by side and one link comparing them in MLflow's training view."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_the_demo_compares_three_runs_in_one_figure_and_one_link(tmp_path) -> None:
    result = run_cli(
        ["-m", "ganlab.launch.studies.demo", "trainer.epochs=3", "trainer.steps_per_epoch=20"],
        tmp_path,
        env={"GANLAB_ROOT": str(tmp_path)},
        command="python",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "demo" / "phases_compared.png").stat().st_size > 20_000
    link = re.search(r"then open (\S*compare-runs\S*)", result.stdout)
    assert link is not None, result.stdout
    query = urllib.parse.parse_qs(link.group(1).split("?", 1)[1])
    assert len(json.loads(query["runs"][0])) == 3  # the three run ids
    assert query["workflowType"] == ["machine_learning"]
    # each run says which weights it ended with: its best epoch, kept in checkpoints/best.pt
    kept = re.findall(
        r"keeps the weights of epoch (\d+) \(quality ([0-9.]+), its best\)", result.stdout
    )
    assert len(kept) == 3, result.stdout
