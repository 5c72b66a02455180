"""The bad-input catalogue: each mistake or fault gets one sentence, and nothing already
logged or saved is lost. (Config values: tests/test_config.py; data files:
tests/test_images.py; checkpoints: tests/test_train.py; servers: tests/test_server.py.)"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from ganlab.core.errors import CheckpointError
from ganlab.training.checkpoint import load_checkpoint, save_checkpoint
from ganlab.training.run import train
from tests.conftest import metric_steps, run_cli
from tests.support import check_command_line


def test_output_folder_under_a_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    problem = check_command_line([f"hydra.run.dir={tmp_path / 'afile' / 'run'}"])
    assert problem == (
        f"cannot create the output folder {tmp_path / 'afile' / 'run'}: "
        f"{tmp_path / 'afile'} is a file; set hydra.run.dir to a folder path."
    )
    sweep = check_command_line(["-m", f"hydra.sweep.dir={tmp_path / 'afile' / 's'}", "seed=0,1"])
    assert sweep is not None and "set hydra.sweep.dir" in sweep


def test_unwritable_output_folder_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run_cli(
        [f"hydra.run.dir={tmp_path / 'afile' / 'run'}"],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"ganlab-train: error: cannot create the output folder {tmp_path / 'afile' / 'run'}: "
        f"{tmp_path / 'afile'} is a file; set hydra.run.dir to a folder path."
    ]
    assert not (tmp_path / "mlflow.db").exists()


def disk_full_after(limit: int, real_save):
    """torch.save that writes `limit` bytes of the file, then fails like a full disk."""

    def save(obj, path):
        real_save(obj, path)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[:limit])
        raise OSError(errno.ENOSPC, "No space left on device")

    return save


def test_disk_full_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "last.pt"
    payload = {"epoch": 1, "trainer": {"w": torch.ones(3)}, "run_id": "r", "config_yaml": ""}
    save_checkpoint(path, payload)
    monkeypatch.setattr(torch, "save", disk_full_after(100, torch.save))
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(path, {**payload, "epoch": 2})
    assert "No space left on device" in str(info.value)
    assert "the previous file is intact" in str(info.value)
    assert not path.with_name("last.pt.tmp").exists()  # no half-written file left behind
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1


def test_disk_full_mid_run_fails_the_run_and_keeps_what_was_logged(
    make_cfg, client, monkeypatch
) -> None:
    import ganlab.training.checkpoint as checkpoint_module

    real_save = torch.save
    calls = {"n": 0}

    def fills_up(obj, path):
        if Path(path).name.startswith("last.pt"):
            calls["n"] += 1
            if calls["n"] == 3:  # the checkpoints of epochs 0 (before training), 1, then 2
                return disk_full_after(64, real_save)(obj, path)
        return real_save(obj, path)

    monkeypatch.setattr(checkpoint_module.torch, "save", fills_up)
    cfg = make_cfg("trainer.epochs=3", "early_stop=none")
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        train(cfg)
    (run,) = client.search_runs(
        [client.get_experiment_by_name(cfg.tracking.experiment).experiment_id]
    )
    assert run.info.status == "FAILED"
    assert "No space left on device" in run.data.tags["ganlab.failure"]
    assert metric_steps(client, run.info.run_id, "train/loss_d") == [1, 2]  # logged, kept
    monkeypatch.undo()
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.pt"
    assert load_checkpoint(ckpt)["epoch"] == 1
    # and the run resumes from there, logging epoch 3 once
    train(
        make_cfg("trainer.epochs=3", "early_stop=none", f"trainer.resume='{cfg.paths.output_dir}'")
    )
    assert metric_steps(client, run.info.run_id, "train/loss_d") == [1, 2, 3]


def test_an_infinite_learning_rate_is_refused_before_a_run_exists() -> None:
    assert check_command_line(["optim.d.lr=inf"]) == "optim.d.lr must be a finite number, got inf."
    assert "finite" in (check_command_line(["optim.g.lr=nan"]) or "")


def test_a_rule_setting_through_early_stop_rule_names_the_foreign_settings() -> None:
    problem = check_command_line(["early_stop.rule=gradient"])
    assert problem is not None
    assert problem.startswith("rule 'gradient' has no setting confirm_drop, confirm_within")
    assert problem.endswith("choose the rule with its group instead, early_stop=gradient, "
                            "which brings that rule's own settings.")  # fmt: skip


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("ganlab-compare", ["--experiment", "x", "--out", "{bad}"]),
        ("ganlab-replay", ["--experiment", "x", "--markdown", "{bad}/t.md"]),
        ("ganlab-benchmark", ["collapse", "--score-only", "--out", "{bad}"]),
    ],
)
def test_an_output_folder_that_cannot_be_written_is_one_line_before_any_work(
    tmp_path: Path, command: str, args: list[str]
) -> None:
    (tmp_path / "afile").write_text("x")  # a folder under a file: refused even for root
    bad = str(tmp_path / "afile" / "out")
    result = run_cli(
        [a.replace("{bad}", bad) for a in args],
        tmp_path,
        command=command,
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"},
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "cannot write there (Not a directory); choose a folder you can write to." in line
    assert "Traceback" not in result.stderr


def test_eval_set_without_a_value_is_one_line_before_any_download(tmp_path: Path) -> None:
    result = run_cli(
        ["0123abcd", "--metrics", "prdc", "--set", "monitor.quality.n_samples"],
        tmp_path,
        command="ganlab-eval",
    )
    assert result.returncode == 2
    assert "--set monitor.quality.n_samples: give KEY=VALUE" in result.stderr.strip()
    assert "Traceback" not in result.stderr


def test_the_benchmark_takes_overrides_after_its_flags(tmp_path: Path) -> None:
    from ganlab.launch.studies.benchmark import build_parser

    args = build_parser().parse_intermixed_args(["collapse", "--quick", "trainer.epochs=3"])
    assert args.quick and args.overrides == ["trainer.epochs=3"]


def test_a_short_run_id_names_its_run_or_says_a_full_id_is_needed(make_cfg, tracking_uri) -> None:
    from ganlab.core.errors import GanlabError
    from ganlab.tracking import RunTracker

    result = train(make_cfg("trainer.epochs=1"))
    tracker = RunTracker.existing(tracking_uri, result.run_id[:8])  # what tables print
    assert tracker.run_id == result.run_id
    with pytest.raises(GanlabError, match=r"a full id has 32 characters"):
        RunTracker.existing(tracking_uri, "ffffffffffff")


def test_a_second_run_in_a_folder_in_use_is_refused_before_it_exists(
    make_cfg, client, tmp_path
) -> None:
    from ganlab.core.folder_lock import FolderInUse
    from ganlab.training.run import Run

    folder = tmp_path / "shared"
    first = Run.create(make_cfg("trainer.epochs=1", f"paths.output_dir={folder}"))
    second_cfg = make_cfg("trainer.epochs=1", f"paths.output_dir={folder}")
    experiment = client.get_experiment_by_name(second_cfg.tracking.experiment)
    before = len(client.search_runs([experiment.experiment_id])) if experiment else 0
    with pytest.raises(FolderInUse, match=r"is in use by another run \(process \d+\); give"):
        Run.create(second_cfg)
    experiment = client.get_experiment_by_name(second_cfg.tracking.experiment)
    assert len(client.search_runs([experiment.experiment_id])) == before  # no run created
    first.execute()  # the folder is free again once the first run has ended
    train(make_cfg("trainer.epochs=1", f"paths.output_dir={folder}"))


def test_two_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT, TINY

    env = {"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}
    args = [sys.executable, "-m", "ganlab", *TINY, "trainer.epochs=1"]
    args.append(f"tracking.uri=sqlite:///{tmp_path / 'm.db'}")
    runs = [
        subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for process in runs:
        assert process.wait(timeout=600) == 0, process.stderr.read()[-2000:]
    folders = sorted(
        p.parent.parent for p in (tmp_path / "outputs").glob("*/*/checkpoints/last.pt")
    )
    assert len(folders) == 2 and folders[0] != folders[1]


def test_a_checkpoint_removed_mid_write_is_not_blamed_on_a_full_disk(tmp_path, monkeypatch):
    import ganlab.training.checkpoint as checkpoint_module

    def vanishes(obj, path):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(checkpoint_module.torch, "save", vanishes)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(tmp_path / "last.pt", {"epoch": 1})
    assert "removed meanwhile, e.g. by another run writing the same folder" in str(info.value)
    assert "disk" not in str(info.value)
