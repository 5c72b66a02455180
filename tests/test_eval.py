"""Snapshots kept during training and `ganlab-eval` on them: values equal to what the live
monitors logged at the same epoch, logged at the right step, refusals in one sentence."""

from __future__ import annotations

import pytest

from ganlab.training.run import train
from tests.conftest import metric_steps, metric_values, run_cli
from tests.support import artifact_paths

KEY = "quality/data_precision_300_k3"


@pytest.fixture
def snapshotted(make_cfg, client):
    cfg = make_cfg(
        "trainer.epochs=4",
        "trainer.snapshot_every_n_epochs=2",
        "trainer.ema_decay=0.9",
        "early_stop.action=record",
        "monitor.prdc.n_samples=300",
        "monitor.prdc.every_n_epochs=2",  # live at 0, 2, 4
    )
    return train(cfg)


def test_snapshots_every_n_epochs_and_the_best_weights(snapshotted, client) -> None:
    paths = artifact_paths(client, snapshotted.run_id, "snapshots")
    assert {"snapshots/epoch_000002.pt", "snapshots/epoch_000004.pt"} <= paths
    assert "snapshots/epoch_000001.pt" not in paths
    assert "checkpoints/best.pt" in artifact_paths(client, snapshotted.run_id, "checkpoints")


def test_eval_recomputes_live_values_and_logs_missing_epochs(
    snapshotted, client, tracking_uri, tmp_path
) -> None:
    run_id = snapshotted.run_id
    live = dict(
        zip(metric_steps(client, run_id, KEY), metric_values(client, run_id, KEY), strict=True)
    )
    result = run_cli(
        [
            run_id,
            "--metrics",
            "dc,pr,steepness",
            "--epochs",
            "2,4,best",
            "--tracking-uri",
            tracking_uri,
            "--overwrite",
        ],
        tmp_path,
        command="ganlab-eval",
    )
    assert result.returncode == 0, result.stderr
    assert f"{KEY} = " in result.stdout
    assert "best (epoch " in result.stdout
    # the same snapshot through the same monitor gives what training logged live
    history = client.get_metric_history(run_id, KEY)
    at_two = [m.value for m in history if m.step == 2]
    # (best is epoch 2 or 4 or another: it may add one more value at its epoch)
    assert len(at_two) >= 2 and at_two[1:] == pytest.approx([live[2]] * (len(at_two) - 1))
    assert metric_steps(client, run_id, "ema/" + KEY).count(4) >= 2  # the EMA G too


def test_eval_without_overwrite_keeps_logged_values(snapshotted, client, tracking_uri, tmp_path):
    run_id = snapshotted.run_id
    before = metric_steps(client, run_id, KEY)
    result = run_cli(
        [run_id, "--metrics", "prdc", "--epochs", "2", "--tracking-uri", tracking_uri],
        tmp_path,
        command="ganlab-eval",
    )
    assert result.returncode == 0, result.stderr
    assert "already logged" in result.stderr
    assert metric_steps(client, run_id, KEY) == before


def test_eval_refuses_a_missing_snapshot_before_computing(
    snapshotted, client, tracking_uri, tmp_path
) -> None:
    result = run_cli(
        [
            snapshotted.run_id,
            "--metrics",
            "prdc",
            "--epochs",
            "3,best",
            "--tracking-uri",
            tracking_uri,
        ],
        tmp_path,
        command="ganlab-eval",
    )
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "no snapshot for 3" in line and "it has: 2, 4, best" in line
    result = run_cli(
        [snapshotted.run_id, "--metrics", "nonsense", "--tracking-uri", tracking_uri],
        tmp_path,
        command="ganlab-eval",
    )
    assert result.returncode == 2 and "no such measure" in result.stderr
