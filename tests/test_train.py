"""End-to-end runs through the real config tree into a real MLflow SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganlab.core.errors import CheckpointError, GanlabError, TrainingFailed
from ganlab.registry import LOSSES
from ganlab.training.checkpoint import load_checkpoint
from ganlab.training.run import train
from ganlab.training.steps import Trainer
from tests.conftest import metric_steps, metric_values
from tests.support import OTHER_VARIANTS_THEN, artifact_paths, final_weights, logged_values

EPOCH_METRICS = [
    "train/loss_d",
    "train/loss_g",
    "train/d_real",
    "train/d_fake",
    "quality/hq_fraction",
    "quality/modes_covered",
    "quality/mode_js",
    "quality/fd2d",
    "quality/mode_hq_count/0",
    "time/epoch_seconds",
]


def test_monitors_off_log_no_empty_phase_figure(make_cfg, client) -> None:
    """With every monitor off there are no curves: no phases.png (it cost ~0.5 s a run)."""
    result = train(make_cfg("monitor=none", "monitor.scatter.every_n_epochs=0"))
    assert "phases.png" not in artifact_paths(client, result.run_id)
    assert "checkpoints/last.pt" in artifact_paths(client, result.run_id)


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_loss_trains_and_logs_everything(make_cfg, client, loss: str) -> None:
    result = train(make_cfg(f"loss={loss}", "seed=1"))
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == f"{loss}-ring8-s1"
    for key in EPOCH_METRICS:
        expected = [1, 2, 3] if key.startswith(("train/", "time/")) else [0, 1, 2, 3]
        assert metric_steps(client, result.run_id, key) == expected, key
    assert run.data.params["loss.name"] == loss
    assert run.data.params["trainer.epochs"] == "3"
    assert {run.data.tags[k] for k in ("loss", "dataset", "model")} == {loss, "ring8", "mlp"}
    from ganlab import __version__

    assert run.data.tags["ganlab.version"] == __version__
    artifacts = artifact_paths(client, result.run_id)
    assert {
        "config/config.yaml",
        "checkpoints/last.pt",
        "samples/epoch_0000.png",
        "samples/epoch_0002.png",
        "samples/epoch_0003.png",
    } <= artifacts
    if loss == "wgan_gp":
        assert metric_steps(client, result.run_id, "train/gp") == [1, 2, 3]


def test_a_run_logs_only_its_own_variants_settings(make_cfg, client) -> None:
    """A grid run logs the grid's dataset settings and the default rule's, none of another
    layout's or rule's (the comparison table and the MLflow UI show what mattered)."""
    result = train(make_cfg("dataset=grid25", "trainer.epochs=1"))
    params = client.get_run(result.run_id).data.params
    dataset = {key for key in params if key.startswith("dataset.")}
    assert dataset == {
        f"dataset.{name}"
        for name in ("name", "kind", "layout", "n_modes", "std", "weights", "spacing")
    }
    assert params["dataset.spacing"] == "2.0" and params["dataset.n_modes"] == "25"
    assert params["early_stop.rule"] == "combined" and "early_stop.tau" not in params


def test_instance_noise_sigma_is_logged(make_cfg, client) -> None:
    result = train(
        make_cfg("loss.instance_noise.sigma0=0.3", "loss.instance_noise.anneal_epochs=2")
    )
    assert metric_values(client, result.run_id, "train/instance_noise_sigma") == pytest.approx(
        [0.3, 0.15, 0.0]
    )


def test_git_commit_tag_names_the_code_that_trained(make_cfg, client, tmp_path) -> None:
    """The commit of ganlab's checkout, whatever paths.root is (outputs are often kept
    outside any repository, as in this test's tmp folder)."""
    import subprocess

    from ganlab.core.paths import PROJECT_ROOT

    head = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip("the project is not a git checkout with commits")
    cfg = make_cfg("trainer.epochs=1")
    assert not (Path(cfg.paths.root) / ".git").exists()
    result = train(cfg)
    tags = client.get_run(result.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == head.stdout.strip()


def test_same_seed_same_run(make_cfg, client) -> None:
    a = train(make_cfg("seed=5"))
    b = train(make_cfg("seed=5"))
    c = train(make_cfg("seed=6"))
    key = "quality/fd2d"
    assert metric_values(client, a.run_id, key) == metric_values(client, b.run_id, key)
    assert metric_values(client, a.run_id, key) != metric_values(client, c.run_id, key)


def test_resume_continues_the_same_run_identically(make_cfg, client, tmp_path) -> None:
    # every monitor every epoch: a run's last epoch always evaluates everything, and the
    # first half below ends at epoch 2; D's learning rate steps up after epoch 2
    common = (
        "loss=mm_nsat",
        "monitor.duality_gap.every_n_epochs=1",
        "monitor.prdc.every_n_epochs=1",
        "trainer.ema_decay=0.9",  # the EMA G and lazy R1's step count resume exactly too
        "loss.r1_weight=1",
        "loss.reg_interval=3",
        "early_stop.action=record",
        "optim.d.milestones=[2]",
        "optim.d.gamma=10",
    )
    straight = train(make_cfg("trainer.epochs=4", *common))

    first = train(make_cfg("trainer.epochs=2", *common))
    resumed = train(make_cfg("trainer.epochs=4", *common, f"trainer.resume='{first.output_dir}'"))
    assert resumed.run_id == first.run_id
    assert client.get_run(first.run_id).info.status == "FINISHED"
    history = logged_values(client, first.run_id)
    reference = logged_values(client, straight.run_id)
    assert history.keys() == reference.keys()
    assert [s for s, _ in history["train/loss_d"]] == [1, 2, 3, 4]  # each epoch exactly once
    for key, points in reference.items():
        assert [s for s, _ in history[key]] == [s for s, _ in points], key
        assert [v for _, v in history[key]] == pytest.approx([v for _, v in points]), key
    for name, tensor in final_weights(straight.checkpoint).items():
        torch.testing.assert_close(final_weights(resumed.checkpoint)[name], tensor)


def test_resume_by_run_id_needs_no_other_argument(make_cfg, client) -> None:
    first = train(make_cfg("trainer.epochs=2", "seed=3", "loss=hinge"))
    # only trainer.resume (and more epochs) on this command line: the rest comes from
    # the checkpoint, so the defaults (seed 0, ns) must not leak in
    cfg = make_cfg("trainer.epochs=3", f"trainer.resume={first.run_id}")
    from ganlab.training.launch_info import LaunchInfo

    launch = LaunchInfo(
        overrides=["trainer.epochs=3", f"trainer.resume={first.run_id}"], choices={"loss": "ns"}
    )
    resumed = train(cfg, launch)
    assert resumed.run_id == first.run_id
    assert resumed.run_name == "hinge-ring8-s3"
    assert metric_steps(client, first.run_id, "train/loss_g") == [1, 2, 3]


def test_a_checkpoint_from_before_dataset_variants_resumes(make_cfg, client) -> None:
    """A checkpoint whose stored config carries every dataset variant's fields (as all
    did before each variant had its own node) resumes the same run; nothing it logged is
    lost."""
    import yaml

    from ganlab.training.checkpoint import load_checkpoint, save_checkpoint

    first = train(make_cfg("trainer.epochs=2", "early_stop=none"))
    payload = load_checkpoint(first.checkpoint)
    stored = yaml.safe_load(payload["config_yaml"])
    stored["dataset"].update(OTHER_VARIANTS_THEN)
    payload["config_yaml"] = yaml.safe_dump(stored)
    payload.pop("format"), payload.pop("ganlab_version")
    save_checkpoint(first.checkpoint, payload)
    spec = f"trainer.resume='{first.output_dir}'"
    resumed = train(make_cfg("trainer.epochs=3", "early_stop=none", spec))
    assert resumed.run_id == first.run_id
    assert metric_steps(client, first.run_id, "train/loss_g") == [1, 2, 3]


def test_resume_keeps_the_checkpoints_epochs_unless_given(make_cfg, client) -> None:
    """Resumed with only trainer.resume, a 2-epoch run keeps its 2 epochs: the value this
    command composes (TINY's 3, or the schema's 40) must not leak in and train it on."""
    first = train(make_cfg("trainer.epochs=2", "early_stop=none"))
    from ganlab.training.launch_info import LaunchInfo

    spec = f"trainer.resume='{first.output_dir}'"
    resumed = train(make_cfg(spec), LaunchInfo(overrides=[spec]))
    assert resumed.run_id == first.run_id and resumed.epochs == 2
    assert metric_steps(client, first.run_id, "train/loss_g") == [1, 2]
    # given on the command line, more epochs are honoured
    spec_more = [spec, "trainer.epochs=4"]
    more = train(make_cfg(*spec_more), LaunchInfo(overrides=spec_more))
    assert more.epochs == 4
    # fewer than the checkpoint holds is refused, naming what it holds
    spec_fewer = [f"trainer.resume='{more.output_dir}'", "trainer.epochs=3"]
    with pytest.raises(GanlabError, match="has already trained 4 epochs; to train further"):
        train(make_cfg(*spec_fewer), LaunchInfo(overrides=spec_fewer))
    assert more.run_id == first.run_id  # trained further, in the same run
    assert metric_steps(client, first.run_id, "train/loss_g") == [1, 2, 3, 4]


def test_resume_refuses_a_different_config(make_cfg) -> None:
    first = train(make_cfg("trainer.epochs=2", "loss=ns"))
    with pytest.raises(CheckpointError, match=r"trained with loss.name=ns \(this command: mm\)"):
        train(make_cfg("trainer.epochs=3", "loss=mm", f"trainer.resume='{first.output_dir}'"))


def test_crash_between_logging_and_checkpoint_loses_and_doubles_nothing(
    make_cfg, client, monkeypatch
) -> None:
    """Epoch 2 is logged, then the process dies before its checkpoint is written."""
    import ganlab.training.run as train_module  # where a run writes its checkpoint

    real_save = train_module.save_checkpoint

    def dying_save(path, payload):
        if payload["epoch"] == 2:
            raise OSError("simulated crash while writing the checkpoint")
        real_save(path, payload)

    monkeypatch.setattr(train_module, "save_checkpoint", dying_save)
    cfg = make_cfg("trainer.epochs=3")
    with pytest.raises(OSError):
        train(cfg)
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    (run,) = client.search_runs(
        [client.get_experiment_by_name(cfg.tracking.experiment).experiment_id]
    )
    assert run.info.status == "FAILED"
    assert "simulated crash" in run.data.tags["ganlab.failure"]
    assert load_checkpoint(Path(cfg.paths.output_dir) / "checkpoints/last.pt")["epoch"] == 1

    train(make_cfg("trainer.epochs=3", f"trainer.resume='{cfg.paths.output_dir}'"))
    assert metric_steps(client, run.info.run_id, "train/loss_d") == [1, 2, 3]
    assert metric_steps(client, run.info.run_id, "quality/hq_fraction") == [0, 1, 2, 3]
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


@pytest.mark.parametrize(("poison", "shown"), [(float("nan"), "nan"), (float("inf"), "inf")])
def test_a_non_finite_loss_fails_the_run_and_keeps_the_last_good_checkpoint(
    make_cfg, client, monkeypatch, poison, shown
) -> None:
    real_step = Trainer._g_step

    def poisoned(self, sigma):
        stats = real_step(self, sigma)
        if self.epoch >= 1:  # NaN or inf from epoch 2 on
            stats["loss_g"] = stats["loss_g"] * poison
        return stats

    monkeypatch.setattr(Trainer, "_g_step", poisoned)
    cfg = make_cfg("trainer.epochs=3")
    with pytest.raises(TrainingFailed, match="non-finite train/loss_g"):
        train(cfg)
    (run,) = client.search_runs(
        [client.get_experiment_by_name(cfg.tracking.experiment).experiment_id]
    )
    assert run.info.status == "FAILED"
    assert f"non-finite train/loss_g ({shown}) in epoch 2" in run.data.tags["ganlab.failure"]
    assert metric_steps(client, run.info.run_id, "train/loss_g") == [1]
    assert load_checkpoint(Path(cfg.paths.output_dir) / "checkpoints/last.pt")["epoch"] == 1
    assert "checkpoints/last.pt" in artifact_paths(client, run.info.run_id)


def test_corrupt_checkpoint_is_one_clear_sentence(make_cfg, tmp_path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="cannot be read .* resume from another") as info:
        train(make_cfg(f"trainer.resume='{bad}'"))
    assert "\n" not in str(info.value)


def test_truncated_checkpoint_is_refused(make_cfg) -> None:
    first = train(make_cfg("trainer.epochs=1"))
    data = first.checkpoint.read_bytes()
    first.checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        train(make_cfg(f"trainer.resume='{first.output_dir}'"))


def test_foreign_checkpoint_is_refused(make_cfg, tmp_path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="not a ganlab-checkpoint/1 checkpoint"):
        train(make_cfg(f"trainer.resume='{other}'"))


def test_resume_spec_that_is_nothing(make_cfg, tmp_path) -> None:
    with pytest.raises(GanlabError, match="trainer.resume=no-such-thing: not found"):
        train(make_cfg("trainer.resume=no-such-thing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GanlabError, match="no checkpoint found in this folder"):
        train(make_cfg(f"trainer.resume='{empty}'"))


def test_run_description_states_the_verdict(make_cfg, client) -> None:
    result = train(make_cfg("early_stop.action=record"))
    note = client.get_run(result.run_id).data.tags["mlflow.note.content"]
    lines = note.splitlines()
    assert lines[0] == "**ganlab verdict** (rule `combined`, action `record`)"
    assert lines[2].startswith("- phases: fitting from epoch 0")
    history = logged_values(client, result.run_id)
    hq = dict(history["quality/hq_fraction"])
    covered = dict(history["quality/modes_covered"])
    final = hq[3] * covered[3] / 8  # ring8
    assert f"final {final:.3f} at epoch 3" in lines[-1]
