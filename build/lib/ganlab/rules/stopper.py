"""Applying a rule: to a stored history (replay), or to a growing one, epoch by epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganlab.config import EarlyStopConfig
from ganlab.registry import RULES
from ganlab.rules.timeline import History, Timeline

REWIND_KEY = "rewind/to_epoch"  # logged at a rewind: the epoch the run went back to


def rewound(history: History) -> list[tuple[int, Mapping[str, float]]]:
    """A logged history as the rule read it in a run that rewound: at each epoch that
    logged `rewind/to_epoch` = b, the evaluations after b up to that epoch are dropped,
    as the online stopper dropped them (EarlyStopper.rewind_to)."""
    kept: list[tuple[int, Mapping[str, float]]] = []
    for epoch, metrics in history:
        kept.append((epoch, metrics))
        if REWIND_KEY in metrics:
            back = int(metrics[REWIND_KEY])
            kept = [(e, m) for e, m in kept if e <= back]
    return kept


def apply_rule(history: History, cfg: EarlyStopConfig) -> Timeline:
    """`cfg`'s rule on a history: the same function online and in replay."""
    return RULES.get(cfg.rule).apply(history, cfg)


class EarlyStopper:
    """Online use of a rule: feed each epoch's metrics, read the decision."""

    def __init__(self, cfg: EarlyStopConfig, history: list | None = None) -> None:
        self.cfg = cfg
        self.keys = RULES.get(cfg.rule).keys
        self.history: list[tuple[int, dict[str, float]]] = [
            (int(epoch), dict(metrics)) for epoch, metrics in (history or [])
        ]
        self.timeline = apply_rule(self.history, cfg)

    @property
    def triggered(self) -> bool:
        return self.timeline.trigger_epoch is not None

    def update(self, epoch: int, metrics: Mapping[str, float]) -> dict[str, float]:
        """Record this epoch; return the metrics to log (`phase`, `early_stop/score`)."""
        kept = {
            k: float(v)
            for k, v in metrics.items()
            if k in self.keys or any(key.endswith("/") and k.startswith(key) for key in self.keys)
        }
        if kept:
            self.history.append((epoch, kept))
            self.timeline = apply_rule(self.history, self.cfg)
        logged = {"phase": float(self.timeline.phase_at(epoch))}
        if self.timeline.epochs and self.timeline.epochs[-1] == epoch:
            score = self.timeline.scores[-1]
            if score is not None:
                logged["early_stop/score"] = score
        return logged

    def rewind_to(self, epoch: int) -> None:
        """Forget the evaluations after `epoch`: the run went back to its state then
        (early_stop.action=rewind), and the rule watches it from there."""
        self.history = [(e, m) for e, m in self.history if e <= epoch]
        self.timeline = apply_rule(self.history, self.cfg)

    def state_dict(self) -> dict[str, Any]:
        return {"history": [[epoch, metrics] for epoch, metrics in self.history]}
