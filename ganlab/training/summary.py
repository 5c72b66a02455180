"""What a run says when it ends: tags naming the rule's decision and the kept epoch, the
verdict as the run's MLflow description, and phases.png drawn from its whole history.

Shared by ganlab's own epoch loop and by `ganlab.Watch` (a user's loop), so a run looks
the same in the MLflow UI whoever trained it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ganlab.config import EarlyStopConfig
from ganlab.rules.figure import has_curves, rule_figure
from ganlab.rules.verdict import describe

log = logging.getLogger("ganlab")


def summarize_run(
    tracker: Any,
    cfg: EarlyStopConfig,
    stopper: Any,
    kept: tuple[int, float] | None,
    title: str,
    rewinds: Sequence[tuple[int, int]] = (),
) -> None:
    """Tag the run with what the rule decided and which weights it keeps (`kept`: the best
    epoch and its quality, or None), describe it, and log phases.png when curves exist.
    `tracker`: a ganlab.tracking.RunTracker; `stopper`: the run's ganlab.rules.EarlyStopper."""
    timeline = stopper.timeline
    tags = {
        "early_stop.rule": cfg.rule,
        "early_stop.action": cfg.action,
        "early_stop.triggered": str(stopper.triggered).lower(),
    }
    if rewinds:
        tags["early_stop.rewinds"] = ", ".join(f"{a}->{b}" for a, b in rewinds)
    if stopper.triggered:
        tags["early_stop.trigger_epoch"] = str(timeline.trigger_epoch)
        tags["early_stop.cause"] = str(timeline.cause)
    if kept is not None:  # the weights the run keeps: checkpoints/best.pt
        tags["ganlab.kept_epoch"] = str(kept[0])
        tags["ganlab.kept_quality"] = f"{kept[1]:.4g}"
    if timeline.failing_epoch is not None:  # the run never fitted, from this epoch
        tags["early_stop.failing_epoch"] = str(timeline.failing_epoch)
    history = tracker.history()
    stopped = stopper.triggered and cfg.action == "stop"
    tags["mlflow.note.content"] = describe(history, cfg, timeline, kept, stopped)
    tracker.set_tags(tags)
    if cfg.rule != "none" and not stopper.triggered:
        log.info("early stop: rule '%s' did not trigger (no collapse detected)", cfg.rule)

    if not has_curves(history):
        return  # monitors off: nothing to draw
    figure = rule_figure(history, cfg, title)
    tracker.log_figure(figure, "phases.png")
    figure.clear()
