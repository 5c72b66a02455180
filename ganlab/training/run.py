"""The Run: everything one training run is, built once, whoever starts it.

`Run.create(cfg)` turns a composed config into a run: the validated config (the
checkpoint's, when resuming), its output folder, the tracking store and MLflow run, the
networks, optimisers, trainer, monitors and stopping rule, restored from the checkpoint
when resuming. `run.execute()` trains it and closes its MLflow run truthfully (FINISHED,
FAILED with the reason, or KILLED). The library API (`ganlab.run(cfg)`), `ganlab-train`
(ganlab.launch.app) and every sweep job go through here; resuming is ganlab.training.resume's job.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.config import GanlabConfig, SignalsConfig, flatten
from ganlab.core import collection
from ganlab.core.errors import Terminated, TrainingFailed
from ganlab.core.folder_lock import FolderLock
from ganlab.core.git import git_commit
from ganlab.core.machine import cpu_model
from ganlab.core.paths import PROJECT_ROOT
from ganlab.core.secrets import credentials_to_environment, redact
from ganlab.core.seeding import generator
from ganlab.core.version import __version__
from ganlab.monitors import MonitorSuite, build_monitors
from ganlab.rules import EarlyStopper
from ganlab.tracking import (
    RunTracker,
    check_tracking,
    resolve_tracking_uri,
    ui_hint,
)
from ganlab.training.best import BEST_WEIGHTS, BestEpoch
from ganlab.training.build import build_parts, resolve_device
from ganlab.training.checkpoint import save_checkpoint
from ganlab.training.launch_info import LaunchInfo
from ganlab.training.loop import FitLoop
from ganlab.training.progress import label_logs_with_run, summarize
from ganlab.training.resume import CHECKPOINT_ARTIFACT, check_epochs_left, resolve_config
from ganlab.training.rewind import Rewinder
from ganlab.training.steps import Trainer

log = logging.getLogger("ganlab")
# set in a sweep job forked from the warm process (ganlab.launch.sweeps.warm) to that process's
# id, which the run's header then names: the job did not start a new interpreter
FORKED_FROM_ENV = "GANLAB_FORKED_FROM"


@dataclass
class RunResult:
    run_id: str
    run_name: str
    tracking_uri: str
    epochs: int  # completed epochs
    metrics: dict[str, float]  # the last epoch's
    output_dir: Path
    checkpoint: Path


def adopt_best_weights(source: Path, target: Path) -> None:
    """Resuming from another folder: take over the best weights kept there."""
    if source.is_file() and source.resolve() != target.resolve() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def signals_config(cfg: GanlabConfig) -> SignalsConfig | None:
    """The step-level signals to read, or None when every monitor is off (monitor=none)."""
    signals = cfg.monitor.signals
    return signals if signals.every_n_steps > 0 or signals.update_norms else None


@dataclass
class Run:
    """One training run's parts, output layout, tracker and resume state."""

    cfg: GanlabConfig
    launch: LaunchInfo
    name: str
    output_dir: Path
    uri: str
    trainer: Trainer
    monitors: MonitorSuite
    stopper: EarlyStopper
    tracker: RunTracker
    best: BestEpoch  # the best evaluation so far, whose weights are checkpoints/best.pt
    rewinder: Rewinder | None  # early_stop.action=rewind: the best state so far, the rewinds
    choices: dict[str, str]  # the config groups chosen, kept in the checkpoint
    config_yaml: str
    lock: FolderLock  # held while the run owns its output folder
    resumed: bool = False  # continues a checkpoint (its epoch's metrics are logged)

    @property
    def checkpoint_path(self) -> Path:
        return self.output_dir / CHECKPOINT_ARTIFACT

    @property
    def in_sweep(self) -> bool:
        """A sweep's job: log lines rather than a bar on a shared terminal."""
        return self.launch.job is not None

    # -- building ----------------------------------------------------------------------
    @classmethod
    def create(cls, cfg: DictConfig, launch: LaunchInfo | None = None) -> Run:
        """Build (or restore) the run a composed config describes."""
        launch = launch or LaunchInfo()
        run_cfg, resume_point = resolve_config(cfg, launch)
        # credentials in the URI (a library call's config) go to the environment before
        # the config is logged, saved or printed (ganlab.core.secrets)
        run_cfg.tracking.uri = run_cfg.tracking.uri and credentials_to_environment(
            run_cfg.tracking.uri
        )
        output_dir = Path(run_cfg.paths.output_dir).resolve()
        output_dir.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(output_dir)  # one run per folder: a second is refused here
        lock.acquire()
        try:
            return cls._create(cfg, launch, run_cfg, resume_point, output_dir, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _create(
        cls,
        cfg: DictConfig,
        launch: LaunchInfo,
        run_cfg: GanlabConfig,
        resume_point: Any,
        output_dir: Path,
        lock: FolderLock,
    ) -> Run:
        threads = run_cfg.trainer.num_threads or launch.threads
        if threads:
            torch.set_num_threads(threads)
        device = resolve_device(run_cfg.device)
        uri = resolve_tracking_uri(run_cfg.tracking.uri, run_cfg.paths.root)
        check_tracking(uri, run_cfg.tracking.require_server, run_cfg.tracking.check_timeout)
        name = run_cfg.tracking.run_name or (
            f"{run_cfg.loss.name}-{run_cfg.dataset.name}-s{run_cfg.seed}"
        )
        if launch.job is not None:
            label_logs_with_run(name)

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
        monitors = build_monitors(run_cfg, parts, name)
        stop_cfg = run_cfg.early_stop
        best = BestEpoch(output_dir / Path(CHECKPOINT_ARTIFACT).parent / BEST_WEIGHTS)
        choices = dict(launch.choices)
        config_yaml = OmegaConf.to_yaml(OmegaConf.structured(run_cfg))  # rendered once
        rewinder = (
            Rewinder(stop_cfg.rewind.lr_scale, stop_cfg.rewind.max)
            if stop_cfg.action == "rewind"
            else None
        )
        if resume_point is not None:
            resumed = resume_point.checkpoint
            trainer.load_state_dict(resumed["trainer"])
            check_epochs_left(trainer.epoch, run_cfg.trainer.epochs, resume_point.path)
            choices = dict(resumed.get("choices", {})) or choices
            stopper = EarlyStopper(stop_cfg, resumed.get("early_stop", {}).get("history", []))
            if rewinder is not None:
                rewinder.load_state_dict(resumed.get("rewind", {}))
                trainer.lr_factor = rewinder.lr_factor
            best.load_state_dict(resumed.get("best", {}))
            adopt_best_weights(resume_point.path.parent / BEST_WEIGHTS, best.path)
            tracker = RunTracker.reopen(uri, resumed["run_id"])
            tracker.set_tags({"ganlab.resumed_at_epoch": trainer.epoch})
        else:
            stopper = EarlyStopper(stop_cfg)
            tracker = start_tracking(run_cfg, uri, name, output_dir, launch, config_yaml)
        tracker.set_tags({"ganlab.checkpoint": output_dir / CHECKPOINT_ARTIFACT})
        return cls(
            run_cfg,
            launch,
            name,
            output_dir,
            uri,
            trainer,
            monitors,
            stopper,
            tracker,
            best,
            rewinder,
            choices,
            config_yaml,
            lock,
            resumed=resume_point is not None,
        )

    # -- checkpoints -------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The checkpoint as of now, copied: the next epoch trains while it is written."""
        return copy.deepcopy(
            {
                "epoch": self.trainer.epoch,
                "trainer": self.trainer.state_dict(),
                "run_id": self.tracker.run_id,
                "config_yaml": self.config_yaml,
                "choices": self.choices,
                "early_stop": self.stopper.state_dict(),
                "best": self.best.state_dict(),
            }
            | ({"rewind": self.rewinder.state_dict()} if self.rewinder is not None else {})
        )

    def write_checkpoint(self, payload: dict) -> None:
        save_checkpoint(self.checkpoint_path, payload)

    # -- training ----------------------------------------------------------------------
    def execute(self) -> RunResult:
        """Train to the configured epochs (or the stop) and close the MLflow run."""

        cfg, trainer = self.cfg, self.trainer
        forked_from = os.environ.get(FORKED_FROM_ENV)
        log.info(
            "ganlab run %s (MLflow run %s, process %d%s)\n"
            "  tracking  %s  experiment '%s'\n  outputs   %s\n"
            "  training  %s on %s, epochs %d-%d x %d steps, batch %d, device %s",
            self.name,
            self.tracker.run_id,
            os.getpid(),
            f", forked from the sweep's warm process {forked_from}" if forked_from else "",
            self.uri,
            cfg.tracking.experiment,
            self.output_dir,
            cfg.loss.name,
            cfg.dataset.name,
            trainer.epoch + 1,
            cfg.trainer.epochs,
            cfg.trainer.steps_per_epoch,
            cfg.trainer.batch_size,
            trainer.parts.device,
        )
        started = time.perf_counter()
        status, reason = "FAILED", None
        previous = _raise_on_termination()
        try:
            metrics = FitLoop(self).run()
            status = "FINISHED"
        except TrainingFailed as exc:
            reason = str(exc)
            raise
        except KeyboardInterrupt:
            status, reason = "KILLED", "interrupted by SIGINT (Ctrl-C)"
            raise
        except Terminated as exc:
            status = "KILLED"
            reason = f"terminated by {exc.signal_name} (a stop, preemption or time limit)"
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._finish(status, reason)
            self.lock.release()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        experiment_id = self.tracker.experiment_id
        log.info(
            "done: %d epochs in %.1f s; %s\n  look: %s  (experiment '%s', run %s)",
            trainer.epoch,
            time.perf_counter() - started,
            summarize(metrics),
            ui_hint(self.uri, experiment_id, self.tracker.run_id),
            cfg.tracking.experiment,
            self.name,
        )
        return RunResult(
            self.tracker.run_id,
            self.name,
            self.uri,
            trainer.epoch,
            metrics,
            self.output_dir,
            self.checkpoint_path,
        )

    def _finish(self, status: str, reason: str | None) -> None:
        """Upload the last good checkpoint and close the run; never mask the original error."""
        tracker, ckpt_path = self.tracker, self.checkpoint_path
        try:
            if self.cfg.tracking.log_checkpoint and ckpt_path.is_file():
                tracker.log_artifact(ckpt_path, str(Path(CHECKPOINT_ARTIFACT).parent))
            if self.best.path.is_file():  # the weights the run keeps, whatever its end
                tracker.log_artifact(self.best.path, str(Path(CHECKPOINT_ARTIFACT).parent))
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


# SIGUSR2: what submitit asks SLURM to send before a time limit (sbatch --signal)
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGUSR2") if hasattr(signal, name)
)


def _raise_on_termination() -> dict[int, Any]:
    """While training, SIGTERM or SIGUSR2 raises Terminated (in the main thread only,
    where Python delivers signals); returns the handlers to restore afterwards.

    The first signal decides: later ones are ignored while the run closes (a scheduler
    often sends both, or the same one twice), so that closing the MLflow run and
    uploading the checkpoint are not cut short. A scheduler's SIGKILL still bounds it.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Terminated(signal.Signals(signum).name)

    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}


def start_tracking(
    cfg: GanlabConfig,
    uri: str,
    run_name: str,
    output_dir: Path,
    launch: LaunchInfo,
    config_yaml: str,
    extra_tags: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
) -> RunTracker:
    """A new MLflow run: tags (sweep, loss, dataset, version, commit, then `extra_tags`),
    the flattened config as params (or `params`), and the resolved config and Hydra's
    files as artifacts."""
    # a sweep's job is a child of its sweep's parent run (which tracking.parent_run_id, if
    # set, nests under: ganlab.launch.sweeps.parent); a run alone is a child of
    # tracking.parent_run_id
    parent = launch.parent_run_id or cfg.tracking.parent_run_id
    tags = {"mlflow.parentRunId": parent} if parent else {}
    if launch.job is not None:
        tags["ganlab.job"] = str(launch.job)
    tags |= {
        "loss": cfg.loss.name,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "seed": str(cfg.seed),
        "ganlab.version": __version__,
        "ganlab.output_dir": str(output_dir),
        "ganlab.overrides": redact(" ".join(launch.overrides or [])),
        "ganlab.threads": str(torch.get_num_threads()),
        # what reproduces where: the same commit, CPU model and torch give the same run
        "ganlab.cpu": cpu_model(),
        "ganlab.torch": torch.__version__,
    }
    tags |= dict(extra_tags or {})
    tags |= {str(k): str(v) for k, v in cfg.tracking.tags.items()}
    # the commit of the code that trains (not of paths.root, which is where outputs go
    # and often no repository at all)
    commit = git_commit(str(PROJECT_ROOT))
    if commit:
        tags["mlflow.source.git.commit"] = commit
    tracker = RunTracker.start(uri, cfg.tracking.experiment, run_name, tags)
    tracker.log_params(flatten(dataclasses.asdict(cfg)) if params is None else params)
    config_file = output_dir / "config.yaml"
    config_file.write_text(config_yaml)
    tracker.log_artifact(config_file, "config")
    hydra_dir = output_dir / ".hydra"
    if hydra_dir.is_dir():  # Hydra's composed config, its own settings and the overrides
        tracker.log_artifacts(hydra_dir, "config/hydra")
    return tracker


def train(cfg: DictConfig, launch: LaunchInfo | None = None) -> RunResult:
    """Run (or resume) one training run described by a composed config: the library call
    behind `ganlab-train`, every sweep job and `ganlab.run`."""
    run = Run.create(cfg, launch)
    collection.resume()  # start-up is over (when ganlab-train paused the collector)
    return run.execute()
