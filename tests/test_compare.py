"""ganlab-compare: selecting runs, per-run and per-group tables, figures, logging to a sweep."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ganlab.study.compare import main as compare_main
from ganlab.tracking import RunTracker
from ganlab.training.run import train
from tests.conftest import compose_tiny

EXPERIMENT = "compare"


@pytest.fixture(scope="module")
def sweep(tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A parent run with four children: two losses x two seeds (built once per module)."""
    root = tmp_path_factory.mktemp("compare")
    parent = RunTracker.start(tracking_uri, EXPERIMENT, "sweep-test", {"ganlab.role": "sweep"})
    for loss in ("ns", "hinge"):
        for seed in (0, 1):
            overrides = [
                f"loss={loss}",
                f"seed={seed}",
                "trainer.epochs=4",
                "early_stop.action=record",
                f"tracking.parent_run_id={parent.run_id}",
            ]
            train(compose_tiny(overrides, root, root / f"{loss}{seed}", tracking_uri, EXPERIMENT))
    parent.end()
    return parent.run_id


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def compare(tracking_uri: str, out: Path, *args: str) -> int:
    return compare_main(
        ["--tracking-uri", tracking_uri, "--experiment", EXPERIMENT, "--out", str(out), *args]
    )


def test_compare_a_sweep_writes_tables_and_figures(sweep, tracking_uri, tmp_path, capsys) -> None:
    out = tmp_path / "cmp"
    assert compare(tracking_uri, out, "--sweep", sweep, "--per-run") == 0
    runs = read_csv(out / "runs.csv")
    # rows follow the groups table (by group, then seed), not the order the jobs started
    assert [r["run"] for r in runs] == [
        "hinge-ring8-s0",
        "hinge-ring8-s1",
        "ns-ring8-s0",
        "ns-ring8-s1",
    ]
    groups = {g["group"]: g for g in read_csv(out / "groups.csv")}
    assert set(groups) == {"ns", "hinge"}
    for name, group in groups.items():
        finals = [float(r["quality (final)"]) for r in runs if r["group"] == name]
        mean, half = (float(x) for x in group["quality (final) mean ± 95% CI"].split(" ± "))
        assert mean == pytest.approx(statistics.mean(finals), abs=1e-3)
        # two seeds: t_{0.975,1} s / sqrt(2), s the sample standard deviation
        expected = 12.706204736 * statistics.stdev(finals) / 2**0.5
        assert half == pytest.approx(expected, abs=2e-3)
        assert group["runs"] == "2" and group["failed"] == "0"
    assert (out / "grid.png").stat().st_size > 10_000
    assert (out / "bands.png").stat().st_size > 10_000
    assert len(list((out / "runs").glob("*.png"))) == 4
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("| ns-ring8-s0 |"))
    # the short run id tells apart runs of the same name
    short_id = next(r["id"] for r in runs if r["run"] == "ns-ring8-s0")
    assert len(short_id) == 8
    assert row.split(" | ")[1:4] == [short_id, "ns", "FINISHED"]
    assert f"logged to run {sweep}" in printed
    logged = {a.path for a in MlflowClient(tracking_uri).list_artifacts(sweep, "comparison")}
    assert {"comparison/runs.csv", "comparison/groups.md", "comparison/grid.png"} <= logged


def test_compare_groups_by_any_config_key(sweep, tracking_uri, tmp_path) -> None:
    out = tmp_path / "by_key"
    assert compare(tracking_uri, out, "--sweep", sweep, "--by", "loss.name,trainer.epochs") == 0
    groups = {g["group"] for g in read_csv(out / "groups.csv")}
    assert groups == {"ns/4", "hinge/4"}


def test_compare_summarises_any_metrics_final_value(sweep, tracking_uri, tmp_path) -> None:
    out = tmp_path / "finals"
    key = "quality/fd2d"
    assert compare(tracking_uri, out, "--sweep", sweep, "--final", key) == 0
    client = MlflowClient(tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id],
        f"tags.`mlflow.parentRunId` = '{sweep}' and tags.loss = 'ns'",
    )
    lasts = [
        max(client.get_metric_history(r.info.run_id, key), key=lambda m: m.step).value for r in runs
    ]
    cell = {g["group"]: g for g in read_csv(out / "groups.csv")}["ns"][
        f"{key} (final) mean ± 95% CI"
    ]
    assert float(cell.split(" ± ")[0]) == pytest.approx(statistics.mean(lasts), abs=1e-3)


def test_t_quantiles_match_scipy() -> None:
    from scipy.stats import t

    from ganlab.study.uncertainty import t975

    for df in (1, 2, 5, 29, 30, 31, 45, 100, 1000):
        assert t975(df) == pytest.approx(t.ppf(0.975, df), rel=1e-6), df


def test_compare_selects_by_tag_and_filter(sweep, tracking_uri, tmp_path) -> None:
    out = tmp_path / "cmp"
    assert (
        compare(
            tracking_uri,
            out,
            "--tag",
            "loss=hinge",
            "--filter",
            "params.seed = '1'",
            "--by",
            "loss,dataset",
        )
        == 0
    )
    (row,) = read_csv(out / "runs.csv")
    assert row["run"] == "hinge-ring8-s1"
    assert row["group"] == "hinge/ring8"


def test_compare_reports_what_each_run_decided(sweep, tracking_uri, tmp_path) -> None:
    out = tmp_path / "cmp"
    assert compare(tracking_uri, out, "--sweep", sweep) == 0
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    for row in read_csv(out / "runs.csv"):
        (run,) = client.search_runs([experiment_id], f"attributes.run_name = '{row['run']}'")
        tags = run.data.tags
        if tags["early_stop.triggered"] == "true":
            assert row["trigger"] == tags["early_stop.trigger_epoch"]
            # what a stop there keeps: the best epoch so far, as the run logged it online
            assert float(row["kept"]) == run.data.metrics["early_stop/stop_epoch"]
        else:  # trained to the end, keeping its best epoch
            assert row["trigger"] == "-" and row["kept"] == tags["ganlab.kept_epoch"]


def test_compare_with_nothing_to_compare(sweep, tracking_uri, tmp_path, capsys) -> None:
    assert compare(tracking_uri, tmp_path, "--tag", "loss=nope") == 1
    assert "no runs match" in capsys.readouterr().err
    assert compare(tracking_uri, tmp_path, "--tag", "oops") == 2
    assert "--tag oops: use KEY=VALUE" in capsys.readouterr().err
    # an unknown sweep id is a usage error naming the id, as in ganlab-replay and -rerun
    assert compare(tracking_uri, tmp_path, "--sweep", "0" * 32) == 2
    err = capsys.readouterr().err
    assert f"run {'0' * 32} not found in tracking store" in err and err.count("\n") == 1


def test_bulk_metric_reads_equal_one_read_per_run_and_key(sweep, tracking_uri) -> None:
    from ganlab.tracking import metric_histories, metric_history

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{sweep}'")
    assert len(runs) == 4
    bulk = metric_histories(client, runs)
    for run in runs:
        assert bulk[run.info.run_id] == metric_history(client, run.info.run_id), run.info.run_name


def test_a_by_key_no_run_has_is_one_line_naming_the_nearest(sweep, tracking_uri, tmp_path, capsys):
    """It used to put every run in a group named '?' and exit 0."""
    out = tmp_path / "nope"
    assert compare(tracking_uri, out, "--sweep", sweep, "--by", "optim.d.lrr") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--by optim.d.lrr: no run has this tag or config key" in err
    assert "the nearest that exist: optim.d.lr" in err
    assert not out.exists()


def test_bands_of_two_seeds_stay_within_the_quality_range_and_say_they_are_wide() -> None:
    from ganlab.study.compare import band_figure
    from ganlab.tracking import StoredRun

    def run(seed: int, hq: list[float]) -> StoredRun:
        history = [
            (
                e + 1,
                {
                    "quality/hq_fraction": q,
                    "quality/modes_covered": 8.0,
                    **{f"quality/mode_hq_count/{k}": 1.0 for k in range(8)},
                },
            )
            for e, q in enumerate(hq)
        ]
        return StoredRun(f"r{seed}", f"s{seed}", "FINISHED", {"loss": "ns"}, {}, history)

    fig = band_figure([run(0, [0.1, 0.9, 0.95]), run(1, [0.9, 0.1, 0.9])], ["loss"])
    ax = fig.axes[0]
    (band,) = ax.collections
    ys = [y for path in band.get_paths() for _, y in path.vertices]
    assert min(ys) >= 0.0 and max(ys) <= 1.0  # t with 1 df would reach -4.6 and 5.6
    (label,) = [t.get_text() for t in ax.get_legend().get_texts()]
    assert label == "ns (n=2, 2 runs: a wide interval)"
    assert all(float(t).is_integer() for t in ax.get_xticks())  # whole epochs
