"""One training run: config -> objects -> epochs -> MLflow, and the Hydra entry point.

`train(cfg)` is the Python API (tests and notebooks call it with a composed config);
`hydra_main` is what `ganlab-train` runs for each job of a run or sweep.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from ganlab import __version__
from ganlab.build import build_parts, resolve_device
from ganlab.checkpoint import RecentWeights, load_checkpoint, save_checkpoint
from ganlab.config import GanlabConfig, SignalsConfig, flatten, register, validate
from ganlab.errors import GanlabError, TrainingFailed
from ganlab.launch import LaunchInfo
from ganlab.launch import from_hydra as launch_from_hydra
from ganlab.loop import FitLoop
from ganlab.monitors import build_monitors
from ganlab.paths import CONF_DIR
from ganlab.progress import label_logs_with_run, summarize
from ganlab.resume import merge_resume_config
from ganlab.rules import EarlyStopper
from ganlab.seeding import generator
from ganlab.tracking import (
    RunTracker,
    check_tracking,
    fetch_run_checkpoint,
    git_commit,
    resolve_tracking_uri,
    ui_hint,
)
from ganlab.trainer import Trainer

log = logging.getLogger("ganlab")
register()

CHECKPOINT_ARTIFACT = "checkpoints/last.pt"


@dataclass
class RunResult:
    run_id: str
    run_name: str
    tracking_uri: str
    epochs: int  # completed epochs
    metrics: dict[str, float]  # the last epoch's
    output_dir: Path
    checkpoint: Path


def _locate_checkpoint(spec: str, uri: str, output_dir: Path) -> Path:
    """`spec` is a checkpoint file, a run's output directory, or an MLflow run id."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if not (path / CHECKPOINT_ARTIFACT).is_file():
            raise GanlabError(
                f"trainer.resume={spec}: no checkpoint found in this folder "
                f"({CHECKPOINT_ARTIFACT} is missing); pass a run's output folder."
            )
        return path / CHECKPOINT_ARTIFACT
    if len(spec) == 32 and all(c in "0123456789abcdef" for c in spec):
        return fetch_run_checkpoint(uri, spec, CHECKPOINT_ARTIFACT, output_dir / "resumed_from")
    raise GanlabError(
        f"trainer.resume={spec}: not found (no such file or folder, and not an MLflow run "
        "id); pass a checkpoint file, a run's output folder or its run id."
    )


@dataclass
class ResumePoint:
    checkpoint: dict
    path: Path


def _resolve_config(cfg: DictConfig, launch: LaunchInfo) -> tuple[GanlabConfig, ResumePoint | None]:
    """Validated config, and the checkpoint to continue from (None for a fresh run)."""
    if not cfg.trainer.resume:
        return validate(cfg), None
    fresh = validate(cfg)  # for paths and tracking of *this* command
    uri = resolve_tracking_uri(fresh.tracking.uri, fresh.paths.root)
    ckpt_path = _locate_checkpoint(cfg.trainer.resume, uri, Path(fresh.paths.output_dir))
    checkpoint = load_checkpoint(ckpt_path)
    saved = OmegaConf.to_container(OmegaConf.create(checkpoint["config_yaml"]))
    merged = merge_resume_config(
        saved,  # type: ignore[arg-type]
        cfg,
        launch.overrides,
        dict(checkpoint.get("choices", {})),
        launch.choices,
        str(ckpt_path),
    )
    return validate(merged), ResumePoint(checkpoint, ckpt_path)


def check_epochs_left(done: int, wanted: int, checkpoint: Path) -> None:
    """Resuming to fewer epochs than the checkpoint holds is a mistake; to exactly as
    many, a no-op that says so (the run is complete; the checkpoint is untouched)."""
    if wanted < done:
        raise GanlabError(
            f"trainer.epochs={wanted} but {checkpoint} has already trained {done} epochs; "
            f"to train further, pass trainer.epochs greater than {done}."
        )
    if wanted == done:
        log.info(
            "%s has already trained all %d epochs: nothing to do (pass trainer.epochs=N "
            "with N > %d to train further)",
            checkpoint,
            done,
            done,
        )


def signals_config(cfg: GanlabConfig) -> SignalsConfig | None:
    """The step-level signals to read, or None when every monitor is off (monitor=none)."""
    signals = cfg.monitor.signals
    return signals if signals.every_n_steps > 0 or signals.update_norms else None


def _checkpoint_payload(
    trainer: Trainer,
    run_id: str,
    config_yaml: str,
    choices: dict[str, str],
    stopper: EarlyStopper | None = None,
) -> dict:
    return {
        "epoch": trainer.epoch,
        "trainer": trainer.state_dict(),
        "run_id": run_id,
        "config_yaml": config_yaml,
        "choices": choices,
        "early_stop": stopper.state_dict() if stopper is not None else {"history": []},
    }


def _sweep_tags(cfg: GanlabConfig, launch: LaunchInfo) -> dict[str, str]:
    """Parent and job number of a sweep's job (or of a run given tracking.parent_run_id)."""
    parent = cfg.tracking.parent_run_id or launch.parent_run_id
    tags = {"mlflow.parentRunId": parent} if parent else {}
    if launch.job is not None:
        tags["ganlab.job"] = str(launch.job)
    return tags


def _start_tracking(
    cfg: GanlabConfig, uri: str, run_name: str, output_dir: Path, launch: LaunchInfo
) -> RunTracker:
    tags = {
        **_sweep_tags(cfg, launch),
        "loss": cfg.loss.name,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "seed": str(cfg.seed),
        "ganlab.version": __version__,
        "ganlab.output_dir": str(output_dir),
        "ganlab.overrides": " ".join(launch.overrides or []),
        "ganlab.threads": str(torch.get_num_threads()),
    }
    commit = git_commit(cfg.paths.root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    tracker = RunTracker.start(uri, cfg.tracking.experiment, run_name, tags)
    tracker.log_params(flatten(dataclasses.asdict(cfg)))
    config_file = output_dir / "config.yaml"
    config_file.write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    tracker.log_artifact(config_file, "config")
    hydra_dir = output_dir / ".hydra"
    if hydra_dir.is_dir():  # Hydra's composed config, its own settings and the overrides
        tracker.log_artifacts(hydra_dir, "config/hydra")
    return tracker


def train(cfg: DictConfig, launch: LaunchInfo | None = None) -> RunResult:
    """Run (or resume) one training run described by a composed config."""
    launch = launch or LaunchInfo()
    run_cfg, resume_point = _resolve_config(cfg, launch)
    threads = run_cfg.trainer.num_threads or launch.threads
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(run_cfg.device)
    output_dir = Path(run_cfg.paths.output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    uri = resolve_tracking_uri(run_cfg.tracking.uri, run_cfg.paths.root)
    check_tracking(uri, run_cfg.tracking.require_server, run_cfg.tracking.check_timeout)
    run_name = run_cfg.tracking.run_name or (
        f"{run_cfg.loss.name}-{run_cfg.dataset.name}-s{run_cfg.seed}"
    )
    if launch.job is not None:
        label_logs_with_run(run_name)

    parts = build_parts(run_cfg, device)
    trainer = Trainer(
        parts,
        run_cfg.trainer,
        run_cfg.loss,
        generator(run_cfg.seed, "train", device),
        track_grad_norms=run_cfg.monitor.param_grads,
        signals=signals_config(run_cfg),
        optim=run_cfg.optim,
    )
    monitors = build_monitors(run_cfg, parts, run_name)
    ckpt_path = output_dir / CHECKPOINT_ARTIFACT
    choices = dict(launch.choices)
    stop_cfg = run_cfg.early_stop
    recent = RecentWeights(ckpt_path.parent / "recent", keep=stop_cfg.patience + stop_cfg.window)
    if resume_point is not None:
        resumed = resume_point.checkpoint
        trainer.load_state_dict(resumed["trainer"])
        check_epochs_left(trainer.epoch, run_cfg.trainer.epochs, resume_point.path)
        choices = dict(resumed.get("choices", {})) or choices
        stopper = EarlyStopper(stop_cfg, resumed.get("early_stop", {}).get("history", []))
        recent.adopt(resume_point.path.parent / "recent")
        tracker = RunTracker.reopen(uri, resumed["run_id"])
        tracker.set_tags({"ganlab.resumed_at_epoch": trainer.epoch})
    else:
        stopper = EarlyStopper(stop_cfg)
        tracker = _start_tracking(run_cfg, uri, run_name, output_dir, launch)
    tracker.set_tags({"ganlab.checkpoint": ckpt_path})
    config_yaml = OmegaConf.to_yaml(OmegaConf.structured(run_cfg))

    def snapshot() -> dict:
        """The checkpoint as of now, copied: the next epoch trains while it is written."""
        payload = _checkpoint_payload(trainer, tracker.run_id, config_yaml, choices, stopper)
        return copy.deepcopy(payload)

    def write(payload: dict) -> None:
        save_checkpoint(ckpt_path, payload)

    loop = FitLoop(
        trainer,
        monitors,
        stopper,
        tracker,
        run_cfg,
        snapshot,
        write,
        recent,
        config_yaml,
        run_name,
        in_sweep=launch.job is not None,
    )

    log.info(
        "ganlab run %s (MLflow run %s)\n  tracking  %s  experiment '%s'\n  outputs   %s\n"
        "  training  %s on %s, epochs %d-%d x %d steps, batch %d, device %s",
        run_name,
        tracker.run_id,
        uri,
        run_cfg.tracking.experiment,
        output_dir,
        run_cfg.loss.name,
        run_cfg.dataset.name,
        trainer.epoch + 1,
        run_cfg.trainer.epochs,
        run_cfg.trainer.steps_per_epoch,
        run_cfg.trainer.batch_size,
        device,
    )
    started = time.perf_counter()
    status, reason = "FAILED", None
    try:
        metrics = loop.run()
        status = "FINISHED"
    except TrainingFailed as exc:
        reason = str(exc)
        raise
    except KeyboardInterrupt:
        status, reason = "KILLED", "interrupted by the user"
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _finish(tracker, status, reason, ckpt_path, run_cfg.tracking.log_checkpoint)

    experiment_id = tracker.client.get_run(tracker.run_id).info.experiment_id
    log.info(
        "done: %d epochs in %.1f s; %s\n  look: %s  (experiment '%s', run %s)",
        trainer.epoch,
        time.perf_counter() - started,
        summarize(metrics),
        ui_hint(uri, experiment_id, tracker.run_id),
        run_cfg.tracking.experiment,
        run_name,
    )
    return RunResult(tracker.run_id, run_name, uri, trainer.epoch, metrics, output_dir, ckpt_path)


def _finish(
    tracker: RunTracker, status: str, reason: str | None, ckpt_path: Path, upload: bool
) -> None:
    """Upload the last good checkpoint and close the run; never mask the original error."""
    try:
        if upload and ckpt_path.is_file():
            tracker.log_artifact(ckpt_path, str(Path(CHECKPOINT_ARTIFACT).parent))
    except Exception as exc:  # noqa: BLE001 - report, then still close the run
        log.warning("could not upload checkpoint %s: %s", ckpt_path, exc)
    try:
        tracker.end(status, reason)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not mark MLflow run %s as %s: %s", tracker.run_id, status, exc)
    if status == "FAILED":
        log.error(
            "run %s FAILED: %s; last good checkpoint: %s",
            tracker.run_id,
            reason,
            ckpt_path if ckpt_path.is_file() else "none (failed before the first epoch ended)",
        )


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    """One Hydra job. User errors print one line and exit 2; failed training exits 1.

    A sweep's job starts the training in a child process (ganlab.sweep_job) and returns
    normally whatever happens to it: a failed or killed job's run is marked FAILED, the
    other jobs go on, and the sweep's summary lists it (ganlab-train then exits 1).
    """
    hydra_cfg = HydraConfig.get()
    launch = launch_from_hydra(hydra_cfg)
    if launch.multirun:
        return _sweep_job(hydra_cfg, launch)
    try:
        result = train(cfg, launch)
    except GanlabError as exc:
        # the same one-line form as a config error caught before Hydra started
        print(f"ganlab-train: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except TrainingFailed:
        sys.exit(1)
    return result.metrics.get("quality/hq_fraction")


def _sweep_job(hydra_cfg: DictConfig, launch: LaunchInfo) -> None:
    """Train this job in a process of its own, so that a killed job fails only itself."""
    from ganlab.sweep_job import run_job

    if launch.sweep is None:
        raise GanlabError(f"{hydra_cfg.sweep.dir} has no ganlab_sweep.json: not a ganlab sweep.")
    assert launch.job is not None and launch.overrides is not None
    output_dir = Path(hydra_cfg.runtime.output_dir)
    run_job(launch.sweep, launch.job, launch.overrides, output_dir, launch.threads)
