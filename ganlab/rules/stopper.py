"""Applying a rule: to a stored history (replay), or to a growing one, epoch by epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganlab.config import EarlyStopConfig
from ganlab.registry import RULES
from ganlab.rules.timeline import History, Timeline


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

    def state_dict(self) -> dict[str, Any]:
        return {"history": [[epoch, metrics] for epoch, metrics in self.history]}
