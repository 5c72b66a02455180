"""`ganlab-train` as a user runs it: a subprocess, from a directory of the user's."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from mlflow.tracking import MlflowClient

from ganlab.config import register, validate
from ganlab.core.paths import CONF_DIR, PROJECT_ROOT
from ganlab.tracking import resolve_tracking_uri
from ganlab.training.progress import Progress
from tests.conftest import TINY, run_cli


def test_default_store_is_the_project_root_whatever_the_cwd(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GANLAB_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["paths.output_dir=."])
    GlobalHydra.instance().clear()
    run_cfg = validate(cfg)
    assert run_cfg.paths.root == str(PROJECT_ROOT)
    uri = resolve_tracking_uri(run_cfg.tracking.uri, run_cfg.paths.root)
    assert uri == f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def test_tracking_uri_precedence(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None, "/data/lab") == "sqlite:////data/lab/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.lab:5000")
    assert resolve_tracking_uri(None, "/data/lab") == "http://mlflow.lab:5000"
    assert resolve_tracking_uri("sqlite:////x/y.db", "/data/lab") == "sqlite:////x/y.db"
    # a relative sqlite path is pinned to the launch directory, not a job's directory
    assert resolve_tracking_uri("sqlite:///runs.db", "/r") == f"sqlite:///{tmp_path / 'runs.db'}"


def test_store_lands_in_root_not_in_the_working_directory(tmp_path) -> None:
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    result = run_cli([*TINY, "trainer.epochs=1"], cwd=elsewhere, env={"GANLAB_ROOT": str(root)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert (root / "mlflow.db").is_file()
    assert (root / "mlartifacts").is_dir()
    assert not (elsewhere / "mlflow.db").exists() and not (elsewhere / "mlruns").exists()
    (run,) = MlflowClient(f"sqlite:///{root / 'mlflow.db'}").search_runs(
        [
            MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
            .get_experiment_by_name("ganlab")
            .experiment_id
        ]
    )
    assert run.info.status == "FINISHED"
    output = result.stdout + result.stderr
    # the venv's own mlflow (it may not be on PATH), and the run's page in the training view
    assert f"{Path(sys.executable).parent / 'mlflow'} ui --backend-store-uri sqlite:///" in output
    assert f"/runs/{run.info.run_id}?workflowType=machine_learning" in output


def test_multirun_sweep_writes_under_multirun_and_logs_every_job(tmp_path) -> None:
    result = run_cli(
        ["-m", "loss=ns,mm_nsat", "seed=0,1", *TINY, "trainer.epochs=2"],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    job_dirs = sorted(p.parent for p in (tmp_path / "multirun").glob("*/*/*/checkpoints"))
    assert [d.name for d in job_dirs] == ["0", "1", "2", "3"]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    everything = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    (parent,) = [r for r in everything if r.data.tags.get("ganlab.role") == "sweep"]
    runs = [r for r in everything if r is not parent]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in runs)
    assert sorted(r.info.run_name for r in runs) == [
        "mm_nsat-ring8-s0",
        "mm_nsat-ring8-s1",
        "ns-ring8-s0",
        "ns-ring8-s1",
    ]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss_d")] == [
            1,
            2,
        ]


def test_diverging_run_exits_nonzero_and_is_marked_failed(tmp_path) -> None:
    result = run_cli(
        [*TINY, "loss=lsgan", "optim.d.lr=1e12", "optim.g.lr=1e12"],
        cwd=tmp_path,
        env={"GANLAB_ROOT": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "FAILED: non-finite train/loss_d" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["ganlab.failure"].startswith("non-finite train/loss_d")


def test_unwritable_store_is_one_sentence(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the store cannot live under a file")
    result = run_cli([*TINY], cwd=tmp_path, env={"GANLAB_ROOT": str(blocker / "sub")})
    assert result.returncode == 2
    assert "is not writable; set tracking.uri" in result.stderr
    assert "Traceback" not in result.stderr


def test_progress_bar_on_a_terminal_but_never_in_a_sweep_job(monkeypatch) -> None:
    """Parallel sweep jobs share one terminal: their bars would overwrite each other."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    modes = {}
    for mode, in_sweep in (("auto", False), ("auto", True), ("bar", True)):
        progress = Progress(
            mode, total_epochs=2, steps_per_epoch=10, start_epoch=0, in_sweep=in_sweep
        )
        modes[mode, in_sweep] = progress.mode
        progress.close()
    # a bar alone on a terminal; lines in a sweep job, unless a bar is asked for
    assert modes == {("auto", False): "bar", ("auto", True): "log", ("bar", True): "bar"}
