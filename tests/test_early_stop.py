"""Early stopping in real runs, and ganlab-replay on their stored histories."""

from __future__ import annotations

import pytest
import torch

from ganlab.rules import apply_rule, rule_config
from ganlab.study.replay import main as replay_main
from ganlab.tracking import metric_history
from ganlab.training.checkpoint import load_checkpoint
from ganlab.training.run import train
from tests.conftest import metric_by_step, metric_steps, metric_values
from tests.support import artifact_paths

# Against its running minimum D's gradient scores log(g / min g) >= 0 = tau at every
# evaluation, so the rule triggers at the first one after the one warm-up evaluation
# (epoch 2) and stops there.
ALWAYS_TRIGGER = (
    "early_stop=gradient",
    "early_stop.reference=running",
    "early_stop.tau=0",
    "trainer.epochs=5",
)


def best_by_logged_quality(client, run_id: str, until: int) -> tuple[int, float]:
    """The earliest epoch <= `until` of highest hq_fraction x modes_covered / 8, computed
    here from the logged metrics (not by ganlab's quality code)."""
    hq = metric_by_step(client, run_id, "quality/hq_fraction")
    modes = metric_by_step(client, run_id, "quality/modes_covered")
    scores = [(hq[e] * modes[e] / 8, -e) for e in hq if 1 <= e <= until]
    quality, negative_epoch = max(scores)
    return -negative_epoch, quality


def test_stop_action_ends_training_at_the_trigger_with_the_best_weights(make_cfg, client) -> None:
    cfg = make_cfg(*ALWAYS_TRIGGER, "early_stop.action=stop", "trainer.snapshot_every_n_epochs=1")
    result = train(cfg)
    assert result.epochs == 2
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["early_stop.triggered"] == "true"
    assert run.data.tags["early_stop.trigger_epoch"] == "2"
    best_epoch, best_quality = best_by_logged_quality(client, result.run_id, until=2)
    # the run ends with its best epoch's weights, says so, and logs which they are
    assert run.data.tags["ganlab.kept_epoch"] == str(best_epoch)
    assert float(run.data.tags["ganlab.kept_quality"]) == pytest.approx(best_quality, rel=1e-3)
    assert metric_values(client, result.run_id, "early_stop/stop_epoch") == [float(best_epoch)]
    assert metric_values(client, result.run_id, "best/epoch")[-1] == best_epoch
    note = run.data.tags["mlflow.note.content"]
    assert f"keeps the weights of epoch {best_epoch} (quality {best_quality:.3f})" in note
    assert "the run stopped there" in note
    kept = load_checkpoint_weights(result.checkpoint.parent / "best.pt")
    snapshot = load_checkpoint_weights(
        result.output_dir / "snapshots" / f"epoch_{best_epoch:06d}.pt"
    )
    assert kept["epoch"] == best_epoch
    assert all(
        torch.equal(kept["generator"][k], snapshot["generator"][k]) for k in kept["generator"]
    )
    assert metric_steps(client, result.run_id, "phase") == [0, 1, 2]  # epoch 0: fitting
    assert metric_values(client, result.run_id, "phase")[-1] == 2.0  # collapsing
    artifacts = artifact_paths(client, result.run_id)
    assert {"checkpoints/best.pt", "checkpoints/last.pt", "phases.png"} <= artifacts


def load_checkpoint_weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_record_action_keeps_training_and_keeps_the_best_weights(make_cfg, client) -> None:
    result = train(make_cfg(*ALWAYS_TRIGGER, "early_stop.action=record"))
    assert result.epochs == 5
    assert metric_steps(client, result.run_id, "phase") == [0, 1, 2, 3, 4, 5]
    assert metric_values(client, result.run_id, "phase") == [0.0, 0.0, 2.0, 2.0, 2.0, 2.0]
    best_epoch, _ = best_by_logged_quality(client, result.run_id, until=5)
    kept = load_checkpoint_weights(result.checkpoint.parent / "best.pt")
    assert kept["epoch"] == best_epoch
    assert client.get_run(result.run_id).data.tags["ganlab.kept_epoch"] == str(best_epoch)
    assert "training went on" in client.get_run(result.run_id).data.tags["mlflow.note.content"]
    if best_epoch != 5:
        final = load_checkpoint(result.checkpoint)["trainer"]["generator"]
        assert any(not torch.equal(kept["generator"][k], final[k]) for k in final)


def test_no_trigger_trains_to_the_end_and_keeps_the_best(make_cfg, client) -> None:
    result = train(make_cfg("trainer.epochs=4", "early_stop=gradient", "early_stop.tau=1000"))
    assert result.epochs == 4
    tags = client.get_run(result.run_id).data.tags
    assert tags["early_stop.triggered"] == "false"
    assert "early_stop.trigger_epoch" not in tags
    best_epoch, _ = best_by_logged_quality(client, result.run_id, until=4)
    assert tags["ganlab.kept_epoch"] == str(best_epoch)
    assert load_checkpoint_weights(result.checkpoint.parent / "best.pt")["epoch"] == best_epoch


def test_resuming_a_stopped_run_does_not_train_past_the_stop(make_cfg, client) -> None:
    first = train(make_cfg(*ALWAYS_TRIGGER, "early_stop.action=stop"))
    again = train(
        make_cfg(*ALWAYS_TRIGGER, "early_stop.action=stop", f"trainer.resume='{first.output_dir}'")
    )
    assert again.run_id == first.run_id
    assert again.epochs == 2
    assert metric_steps(client, first.run_id, "train/loss_d") == [1, 2]


def test_replay_of_stored_history_reproduces_the_online_decision(make_cfg, client) -> None:
    cfg = make_cfg(
        "trainer.epochs=6",
        "early_stop.action=record",
        "early_stop.warmup_epochs=1",
        "early_stop.patience=1",
        "early_stop.ema=1",
    )
    result = train(cfg)
    stored = metric_history(client, result.run_id)
    timeline = apply_rule(stored, rule_config(warmup_epochs=1, patience=1, window=1, ema=1.0))
    online_phase = metric_values(client, result.run_id, "phase")
    assert online_phase == [float(timeline.phase_at(e)) for e in range(0, 7)]
    tags = client.get_run(result.run_id).data.tags
    if timeline.trigger_epoch is None:
        assert tags["early_stop.triggered"] == "false"
    else:
        assert tags["early_stop.trigger_epoch"] == str(timeline.trigger_epoch)


def test_replay_cli_reports_regret_per_run_and_per_loss(
    make_cfg, tracking_uri, experiment, tmp_path, capsys
) -> None:
    for loss in ("ns", "hinge"):
        train(make_cfg(f"loss={loss}", "trainer.epochs=4", "early_stop.action=record"))
    code = replay_main(
        [
            "--tracking-uri",
            tracking_uri,
            "--experiment",
            experiment,
            "rule=gradient",
            "tau=0",
            "warmup_epochs=1",
            "patience=1",
            "reference=running",
            "--markdown",
            str(tmp_path / "t.md"),
            "--figures",
            str(tmp_path / "figs"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("| ns-ring8-s0 |"))
    assert row.split(" | ")[3:6] == ["2", "collapse", "-"]  # trigger, cause, failing from
    assert row.split(" | ")[6] in ("1", "2")  # kept: the best epoch up to the trigger
    assert (
        "| rule=gradient patience=1 reference=running tau=0.0 warmup_epochs=1 | **all** | 2 |"
        in out
    )
    # the baseline every rule must beat: train to the end (no trigger, nothing saved)
    assert "| never stop (baseline) | **all** | 2 |" in out
    baseline = next(r for r in out.splitlines() if r.startswith("| never stop (baseline) | **"))
    assert baseline.split("|")[-4:-1] == [" 0.00 ", " 0.00 ", " 0.0 "]  # triggered, failing, saved
    assert (tmp_path / "t.md").read_text().strip() == out.strip()
    assert len(list((tmp_path / "figs").glob("*.png"))) == 2


def test_replay_grid_ranks_settings_by_median_regret(
    make_cfg, tracking_uri, experiment, capsys
) -> None:
    train(make_cfg("trainer.epochs=4", "early_stop.action=record"))
    code = replay_main(
        [
            "--tracking-uri",
            tracking_uri,
            "--experiment",
            experiment,
            "rule=gradient",
            "tau=0,1000",
            "warmup_epochs=1",
            "reference=running",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| rule=")]
    assert len(rows) == 2
    regrets = [float(row.split("|")[4]) for row in rows]
    assert regrets == sorted(regrets)
    assert out.strip().splitlines()[-1].startswith("| never stop (baseline) | **all** |")


def test_replay_pools_several_experiments(make_cfg, tracking_uri, experiment, capsys) -> None:
    train(make_cfg("trainer.epochs=2"))
    train(make_cfg("trainer.epochs=2", "dataset=grid25", f"tracking.experiment={experiment}-b"))
    args = ["--tracking-uri", tracking_uri, "--experiment", experiment, "--by", "dataset"]
    assert replay_main([*args, "--experiment", f"{experiment}-b"]) == 0
    out = capsys.readouterr().out
    assert "| rule=combined | grid25 | 1 |" in out and "| rule=combined | ring8 | 1 |" in out
    assert "| rule=combined | **all** | 2 |" in out


def test_replay_grid_breaks_ties_by_mean_regret_then_epochs_saved() -> None:
    from ganlab.study.replay import Summary, ranking

    class Stub:
        def __init__(self, regret: float, saved: int) -> None:
            self.regret, self.epochs_saved = regret, saved

    def row(regrets: list[float], saved: int) -> Summary:
        return Summary("rule", "**all**", tuple(Stub(r, saved) for r in regrets))

    rows = [row([0.1, 0.1, 0.7], 5), row([0.1, 0.1, 0.4], 1), row([0.1, 0.1, 0.4], 9)]
    rows.append(row([0.05, 0.05, 2.6], 0))
    assert sorted(rows, key=ranking) == [rows[3], rows[2], rows[1], rows[0]]
    # ranked on the numbers, not on their 3-decimal print: 0.1234 beats 0.1236
    close = [row([0.1236], 0), row([0.1234], 0)]
    assert sorted(close, key=ranking) == [close[1], close[0]]


def test_replay_rejects_unknown_settings_and_experiments(tracking_uri, capsys) -> None:
    assert replay_main(["--tracking-uri", tracking_uri, "tua=1"]) == 2
    assert "'tua=1' is not an early_stop setting" in capsys.readouterr().err
    assert replay_main(["--tracking-uri", tracking_uri, "rule=gradient", "tau=banana"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "early_stop.tau='banana' is not a valid value" in err
    assert replay_main(["--tracking-uri", tracking_uri, "tau=1"]) == 2  # not combined's
    assert "tau is not a setting of rule=combined" in capsys.readouterr().err
    assert replay_main(["--tracking-uri", tracking_uri, "rule=gradient", "tau=-1"]) == 2
    assert "early_stop.tau must be >= 0, got -1.0" in capsys.readouterr().err
    assert replay_main(["--tracking-uri", tracking_uri, "--tolerance", "-1"]) == 2
    assert "--tolerance must be >= 0" in capsys.readouterr().err
    assert replay_main(["--tracking-uri", tracking_uri, "--experiment", "nope"]) == 2
    assert "experiment 'nope' does not exist" in capsys.readouterr().err
    assert replay_main(["--tracking-uri", tracking_uri, "rule=magic"]) == 2
    assert "unknown stopping rule 'magic'" in capsys.readouterr().err


@pytest.mark.parametrize("rule", ["duality_gap", "oracle", "none"])
def test_every_rule_runs_online(make_cfg, client, rule: str) -> None:
    result = train(make_cfg(f"early_stop={rule}", "monitor.duality_gap.every_n_epochs=1"))
    tags = client.get_run(result.run_id).data.tags
    assert tags["early_stop.rule"] == rule
    assert metric_steps(client, result.run_id, "phase") == [0, 1, 2, 3]


def test_replay_names_an_unknown_run_id(make_cfg, tracking_uri, experiment, capsys) -> None:
    train(make_cfg("trainer.epochs=2"))
    args = ["--tracking-uri", tracking_uri, "--experiment", experiment, "--run-id", "f" * 32]
    assert replay_main(args) == 2
    assert f"no finished run {'f' * 32} in experiment" in capsys.readouterr().err
