"""Rewind instead of stop (`early_stop.action=rewind`).

A rule that fires at the cause of a collapse (D overshooting) fires before the quality
falls, and stopping there loses what the run would still have learned; a run that would
have recovered is stopped for nothing. A rewind costs less either way: at a collapse
trigger the run goes back to the best weights it has seen (G, D, the EMA G and both
optimisers' states, at the evaluation of highest quality so far, as known online),
scales both learning rates by `early_stop.rewind.lr_scale` and trains on; at most
`early_stop.rewind.max` times, after which triggers are only recorded.

The stopping rule then reads the run as if the undone epochs had not happened: its
history goes back to the restored epoch (`EarlyStopper.rewind_to`), so it watches the
rewound run with the references it had then. The logged history keeps every epoch, with
`rewind/to_epoch`, `rewind/count` and `rewind/lr_factor` at each rewind, from which a
replay splices the same history (ganlab.rules.stopper.rewound). Everything here is in the
checkpoint, so a resumed run rewinds exactly as an uninterrupted one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ganlab.rules.run_quality import bounded_quality

STATE_KEYS = ("generator", "discriminator", "opt_g", "opt_d", "ema")


@dataclass
class Rewinder:
    """The best state so far and the rewinds made, for one run."""

    lr_scale: float
    max_rewinds: int
    best_epoch: int | None = None
    best_quality: float = -1.0
    best_state: dict[str, Any] | None = None
    rewinds: list[tuple[int, int]] = field(default_factory=list)  # (trigger, to epoch)

    @property
    def lr_factor(self) -> float:
        return self.lr_scale ** len(self.rewinds)

    @property
    def can_rewind(self) -> bool:
        return self.best_state is not None and len(self.rewinds) < self.max_rewinds

    def observe(self, epoch: int, metrics: dict[str, float], trainer_state: Any) -> None:
        """Keep this evaluation's state if its quality is the best so far.
        `trainer_state` is called only then (copying the state costs)."""
        quality = bounded_quality([(epoch, metrics)])[1]
        if quality and quality[0] > self.best_quality:
            self.best_quality, self.best_epoch = quality[0], epoch
            full = trainer_state()
            self.best_state = copy.deepcopy({k: full[k] for k in STATE_KEYS if k in full})

    def rewind(self, trigger_epoch: int) -> dict[str, Any]:
        """Record a rewind at `trigger_epoch`; the state to restore."""
        assert self.best_state is not None and self.best_epoch is not None
        self.rewinds.append((trigger_epoch, self.best_epoch))
        return self.best_state

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "best_quality": self.best_quality,
            "best_state": self.best_state,
            "rewinds": [list(r) for r in self.rewinds],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_epoch = state.get("best_epoch")
        self.best_quality = float(state.get("best_quality", -1.0))
        self.best_state = state.get("best_state")
        self.rewinds = [(int(a), int(b)) for a, b in state.get("rewinds", [])]
