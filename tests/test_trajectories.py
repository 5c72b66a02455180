"""The shipped trajectory set: its schema, its provenance, labels that follow from its
quality, and a re-scoring that reproduces the published tables exactly (what
`ganlab-benchmark collapse --score-only --holdout --confirm` prints on a fresh clone)."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ganlab.core.paths import PROJECT_ROOT
from ganlab.rules.run_quality import bounded_quality, covered_modes
from ganlab.study.catalogue import load_catalogue
from ganlab.study.labels import label_run
from ganlab.study.trajectories import (
    DEFAULT_PATH,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    Trajectory,
    read,
    write,
)

PUBLISHED = PROJECT_ROOT / "benchmarks" / "collapse" / "published_scores.csv"
PUBLISHED_KEPT = PROJECT_ROOT / "benchmarks" / "collapse" / "published_kept.csv"


@pytest.fixture(scope="module")
def shipped() -> list:
    return read(DEFAULT_PATH)


def test_the_shipped_set_holds_every_catalogue_run_in_the_documented_schema(shipped) -> None:
    table = pq.read_table(DEFAULT_PATH)
    assert table.schema.metadata[b"format"].decode() == SCHEMA_VERSION
    assert [*RUN_COLUMNS, "epoch"] == table.column_names[: len(RUN_COLUMNS) + 1]
    metric_columns = table.column_names[len(RUN_COLUMNS) + 1 :]
    # every channel a rule reads, and the quality labels are read from
    assert {
        "quality/hq_fraction",
        "quality/modes_covered",
        "quality/class_quality",
        "train/d_logit_abs_max",
        "train/g_update_rel",
        "monitor/d_acc",
        "monitor/dgrad_fake_p90",
        "monitor/steepness_p90",
    } <= set(metric_columns)
    assert DEFAULT_PATH.stat().st_size < 25 * 2**20
    catalogue = load_catalogue()
    wanted = {job.name: job.family for job in catalogue.jobs()}
    assert {t.run for t in shipped} <= set(wanted)
    # every catalogue run ships, the natural families' included
    assert {t.run for t in shipped} == set(wanted)
    for trajectory in shipped:
        assert trajectory.command.startswith("ganlab-train +collapse/"), trajectory.run
        assert trajectory.commit and trajectory.ganlab_version, trajectory.run
        assert trajectory.split == catalogue.split_of(trajectory.family, trajectory.seed)
        epochs = [e for e, _ in trajectory.history]
        assert epochs == sorted(set(epochs)) and epochs[0] == 0, trajectory.run


def test_the_stored_labels_follow_from_the_stored_quality(shipped) -> None:
    catalogue = load_catalogue()
    for t in shipped:
        epochs, quality = bounded_quality(t.history)
        label = label_run(
            epochs, quality, catalogue.label_criteria(t.family), covered_modes(t.history, epochs)
        )
        assert (label.label, label.onset_epoch) == (t.label, t.onset_epoch), t.run


def test_a_trajectory_set_round_trips_through_parquet(tmp_path: Path) -> None:
    history = [(0, {"a": 1.0}), (1, {"a": 2.0, "b": math.pi}), (2, {"b": -1.5})]
    original = Trajectory(
        "ring8-ns-s0",
        "ring8",
        "ns",
        0,
        "tune",
        "FINISHED",
        "id",
        "ganlab-train x",
        "abc",
        "0.1.0",
        "healthy",
        None,
        history,
        cpu="AMD EPYC",
        torch_version="2.14.1",
    )
    write([original], tmp_path / "t.parquet")
    (back,) = read(tmp_path / "t.parquet")
    assert back == original


@pytest.mark.slow
def test_re_scoring_the_shipped_set_reproduces_the_published_tables(tmp_path) -> None:
    from ganlab.study.report import write_report

    started = time.perf_counter()
    write_report(
        read(DEFAULT_PATH),
        load_catalogue(),
        tmp_path,
        DEFAULT_PATH,
        sealed_splits=("holdout", "confirm", "natural"),  # a look in the test's own log
        report=lambda line: None,
    )
    seconds = time.perf_counter() - started
    with (tmp_path / "scores.csv").open() as ours, PUBLISHED.open() as published:
        assert list(csv.reader(ours)) == list(csv.reader(published))
    with (tmp_path / "kept.csv").open() as ours, PUBLISHED_KEPT.open() as published:
        assert list(csv.reader(ours)) == list(csv.reader(published))
    print(f"re-scored every rule on every split in {seconds:.1f} s")


def test_replay_judges_a_rule_on_the_tuning_split_of_the_shipped_set(capsys) -> None:
    """Any rule or setting can be replayed on the shipped runs without a tracking store;
    held-out runs stay behind the benchmark's logged looks."""
    from ganlab.study.replay import main as replay_main

    assert replay_main(["--trajectories", str(DEFAULT_PATH), "rule=combined"]) == 0
    table = capsys.readouterr().out
    tuning = [t for t in read(DEFAULT_PATH) if t.split == "tune"]
    assert sum(
        line.startswith(f"| {t.run} |") for t in tuning for line in table.splitlines()
    ) == len(tuning)
    assert f"| rule=combined | **all** | {len(tuning)} |" in table
    held_out = next(t.run for t in read(DEFAULT_PATH) if t.split == "holdout")
    assert replay_main(["--trajectories", str(DEFAULT_PATH), "--run-id", held_out]) == 2
    assert "held-out or confirmation runs" in capsys.readouterr().err
