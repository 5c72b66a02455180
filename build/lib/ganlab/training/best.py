"""The weights a run keeps: its best epoch so far, whatever the stopping rule does.

A GAN's last weights are rarely its best: runs crash and recover, collapse, or drift.
So every run keeps, beside `checkpoints/last.pt` (to resume), the weights of its best
evaluation so far by the quality it knows online (ganlab.rules.run_quality.epoch_quality:
hq x coverage on mixtures, class quality or minus FID on images) in `checkpoints/best.pt`,
a `ganlab-weights/1` payload with the EMA generator when there is one. Each evaluation
logs `best/epoch` and `best/quality`; a run that stops (early_stop.action=stop) ends with
these weights as its result, and its description says which epoch they are. Without any
quality monitor there is nothing to rank epochs by, and the run's result is its last
weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlab.rules.run_quality import epoch_quality

BEST_WEIGHTS = "best.pt"  # in the run's checkpoints/ folder, and as an MLflow artifact
BEST_EPOCH_KEY, BEST_QUALITY_KEY = "best/epoch", "best/quality"


@dataclass
class BestEpoch:
    """The best evaluation so far: its epoch and quality (None before any)."""

    path: Path  # where its weights are written
    epoch: int | None = None
    quality: float = -math.inf

    def observe(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Whether this evaluation is better than every earlier one (it becomes the best:
        its weights are to be written)."""
        quality = epoch_quality(epoch, metrics)
        if quality is None or not math.isfinite(quality) or quality <= self.quality:
            return False
        self.epoch, self.quality = epoch, quality
        return True

    def metrics(self) -> dict[str, float]:
        """What each evaluation logs: the best epoch so far and its quality."""
        if self.epoch is None:
            return {}
        return {BEST_EPOCH_KEY: float(self.epoch), BEST_QUALITY_KEY: self.quality}

    @property
    def kept(self) -> tuple[int, float] | None:
        return None if self.epoch is None else (self.epoch, self.quality)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "quality": self.quality}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch = state.get("epoch")
        self.quality = float(state.get("quality", -math.inf))
