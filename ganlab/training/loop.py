"""The epoch loop of a run: train, evaluate, decide, log, checkpoint.

Order within an epoch matters for crash safety: metrics are logged before the checkpoint
is written. A crash in between replays that epoch on resume; the tracker skips epochs
already logged, so no metric is lost or doubled, and the replay is bit-identical.
Logging and checkpointing run in a background thread (ganlab.training.writer) on a snapshot of
the epoch's state, in that order, while the next epoch trains; every tracker call of the
loop goes through that thread, and the loop waits for it before it returns or raises.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ganlab.monitors import EvalState
from ganlab.training.checkpoint import atomic_save
from ganlab.training.progress import Progress
from ganlab.training.snapshots import SNAPSHOT_DIR, SnapshotKeeper, snapshot_payload
from ganlab.training.summary import summarize_run
from ganlab.training.writer import BackgroundWriter

log = logging.getLogger("ganlab")


class LoopOwner(Protocol):
    """What the epoch loop needs of the run it trains (ganlab.training.run.Run has it):
    its parts, where its outputs go, and how its checkpoint is made and written."""

    cfg: Any  # GanlabConfig
    name: str
    trainer: Any  # ganlab.training.steps.Trainer
    monitors: Any  # ganlab.monitors.MonitorSuite
    stopper: Any  # ganlab.rules.EarlyStopper
    tracker: Any  # ganlab.tracking.RunTracker
    best: Any  # ganlab.training.best.BestEpoch
    rewinder: Any  # ganlab.training.rewind.Rewinder, or None unless action=rewind
    config_yaml: str
    resumed: bool

    @property
    def in_sweep(self) -> bool: ...

    def snapshot(self) -> dict: ...

    def write_checkpoint(self, payload: dict) -> None: ...


class FitLoop:
    """The epochs of one Run: train, evaluate, decide, log, checkpoint."""

    def __init__(self, run: LoopOwner) -> None:
        self.run_ = run
        self.trainer = run.trainer
        self.monitors = run.monitors
        self.stopper = run.stopper
        self.tracker = run.tracker
        self.cfg = run.cfg
        self.best = run.best
        self.rewinder = run.rewinder
        self.writer = BackgroundWriter()
        self.snapshots = SnapshotKeeper(
            self.cfg.trainer.snapshot_every_n_epochs, self.best.path.parent.parent / SNAPSHOT_DIR
        )

    def _state(self, train_metrics: dict[str, float] | None = None) -> EvalState:
        p = self.trainer.parts
        ema = self.trainer.ema.module if self.trainer.ema is not None else None
        return EvalState(
            p.generator, p.discriminator, self.trainer.epoch, p.device, train_metrics or {}, ema
        )

    def _write(
        self,
        epoch: int,
        metrics: dict[str, float],
        figures: dict,
        checkpoint: dict | None,
        write_snapshots: Callable[[], None] | None = None,
    ) -> None:
        """An epoch's outputs, in the background: metrics and figures, snapshots, then the
        checkpoint (a crash before it replays the epoch, which rewrites the same files)."""
        if self.tracker.log_metrics(metrics, step=epoch):
            for artifact_file, figure in figures.items():
                self.tracker.log_figure(figure, artifact_file)
        for figure in figures.values():
            figure.clear()
        if write_snapshots is not None:
            write_snapshots()
        if checkpoint is not None:
            self.run_.write_checkpoint(checkpoint)

    def run(self) -> dict[str, float]:
        """Train up to cfg.trainer.epochs (or the stop); return the last epoch's metrics."""
        try:
            metrics = self._run()
        except BaseException:
            try:  # keep what the finished epochs produced; the original error wins
                self.writer.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("writing the last epoch's outputs also failed: %s", exc)
            raise
        self.writer.close()
        self._summarize()
        return metrics

    def _run(self) -> dict[str, float]:
        last_epoch = self.cfg.trainer.epochs
        metrics: dict[str, float] = {}
        if self.trainer.epoch == 0 and not self.run_.resumed:
            metrics, figures = self.monitors.evaluate(self._state(), last_epoch)
            # every run starts fitting: phase_at(0) of any timeline, so replays agree
            metrics["phase"] = float(self.stopper.timeline.phase_at(0))
            # a checkpoint before any training: a run stopped during its first epoch (a
            # scheduler's early signal) resumes into the same MLflow run like any other
            self.writer.submit(self._write, 0, metrics, figures, self.run_.snapshot())
        progress = Progress(
            self.cfg.trainer.progress,
            last_epoch,
            self.cfg.trainer.steps_per_epoch,
            self.trainer.epoch,
            self.run_.in_sweep,
        )
        try:
            while self.trainer.epoch < last_epoch:
                if self.stopper.triggered and self.cfg.early_stop.action == "stop":
                    break  # a resumed run that had already stopped
                metrics = self._epoch(progress)
                progress.epoch_done(self.trainer.epoch, metrics)
        finally:
            progress.close()
        return metrics

    def _epoch(self, progress: Progress) -> dict[str, float]:
        started = time.perf_counter()
        metrics = self.trainer.train_epoch(progress.advance)
        metrics["time/train_seconds"] = time.perf_counter() - started
        epoch, last_epoch = self.trainer.epoch, self.cfg.trainer.epochs
        evaluated, figures = self.monitors.evaluate(self._state(metrics), last_epoch)
        metrics.update(evaluated)

        if self.rewinder is not None:  # the best state so far, for a later rewind
            self.rewinder.observe(epoch, metrics, self.trainer.state_dict)
        improved = self.best.observe(epoch, metrics)
        metrics.update(self.best.metrics())
        was_triggered = self.stopper.triggered
        metrics.update(self.stopper.update(epoch, metrics))
        p = self.trainer.parts
        weights = functools.cache(  # copied at most once per epoch, for every use below
            lambda: snapshot_payload(
                epoch, p, self.trainer.ema, self.tracker.run_id, self.run_.config_yaml
            )
        )
        keep = weights() if improved else None  # copied now: the next epoch trains meanwhile
        stopping = False
        if self.stopper.triggered and not was_triggered:
            timeline = self.stopper.timeline
            metrics["early_stop/trigger_epoch"] = float(epoch)
            kept = self.best.kept  # what a stop here keeps: the best epoch so far
            metrics["early_stop/stop_epoch"] = float(kept[0] if kept else epoch)
            if self._rewinds(timeline.cause):
                self._rewind(epoch, metrics)
                return self._finish_epoch(epoch, metrics, figures, weights, started, False, keep)
            stopping = self.cfg.early_stop.action == "stop"
            log.info(
                "early stop: rule '%s' triggered at epoch %d (%s)%s",
                self.cfg.early_stop.rule,
                epoch,
                "the run is failing: it never fitted"
                if timeline.cause == "failing"
                else "collapse",
                (" - stopping" if stopping else " - recording only, training continues")
                + (
                    f"; the run keeps the weights of epoch {kept[0]} (quality {kept[1]:.3f})"
                    if kept
                    else ""
                ),
            )
        return self._finish_epoch(epoch, metrics, figures, weights, started, stopping, keep)

    def _finish_epoch(
        self,
        epoch: int,
        metrics: dict[str, float],
        figures: dict,
        weights: Callable[[], dict],
        started: float,
        stopping: bool,
        best_weights: dict | None,
    ) -> dict[str, float]:
        """The epoch's outputs handed to the background writer; its metrics.
        `best_weights`: this epoch's weights when it is the best so far."""
        last_epoch = self.cfg.trainer.epochs
        metrics["time/epoch_seconds"] = time.perf_counter() - started
        checkpoint = (
            self.run_.snapshot()
            if stopping
            or epoch == last_epoch
            or (epoch % self.cfg.trainer.checkpoint_every_n_epochs == 0)
            else None
        )
        write_snapshots = self.snapshots.after_epoch(
            epoch, last_epoch, weights, self.tracker.log_artifact
        )
        if best_weights is not None:
            self.writer.submit(atomic_save, best_weights, self.best.path)
        self.writer.submit(self._write, epoch, dict(metrics), figures, checkpoint, write_snapshots)
        return metrics

    def _rewinds(self, cause: str | None) -> bool:
        """A collapse trigger under action=rewind, with rewinds left."""
        return (
            self.rewinder is not None
            and self.cfg.early_stop.action == "rewind"
            and cause == "collapse"
            and self.rewinder.can_rewind
        )

    def _rewind(self, epoch: int, metrics: dict[str, float]) -> None:
        """Back to the best state so far, learning rates scaled; the rule forgets the
        undone evaluations (ganlab.training.rewind)."""
        state = self.rewinder.rewind(epoch)
        self.trainer.restore(state)
        self.trainer.lr_factor = self.rewinder.lr_factor
        to_epoch = self.rewinder.best_epoch
        self.stopper.rewind_to(to_epoch)
        metrics["rewind/to_epoch"] = float(to_epoch)
        metrics["rewind/count"] = float(len(self.rewinder.rewinds))
        metrics["rewind/lr_factor"] = self.rewinder.lr_factor
        log.info(
            "early stop: rule '%s' triggered at epoch %d (collapse): rewind %d of %d to the "
            "best weights so far (epoch %d, quality %.3f); learning rates now x%g",
            self.cfg.early_stop.rule,
            epoch,
            len(self.rewinder.rewinds),
            self.rewinder.max_rewinds,
            to_epoch,
            self.rewinder.best_quality,
            self.rewinder.lr_factor,
        )

    def _summarize(self) -> None:
        """Tags saying what the rule decided, the verdict and the phase figure."""
        rewinds = self.rewinder.rewinds if self.rewinder is not None else ()
        summarize_run(
            self.tracker, self.cfg.early_stop, self.stopper, self.best.kept, self.run_.name, rewinds
        )
