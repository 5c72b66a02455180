"""Generator snapshots kept during training, for post-hoc evaluation (`ganlab-eval`).

With `trainer.snapshot_every_n_epochs = N > 0` a run keeps, as MLflow artifacts under
`snapshots/`: the weights at every N-th epoch and at the last (`epoch_000010.pt`), and at
the best epoch so far by the run's bounded quality (`best.pt`, replaced when a later epoch
is better). The stop epoch's weights are the early-stopping rule's `checkpoints/stop.pt`.
Each file is a `ganlab-weights/1` payload (G, D, the EMA G when there is one, the epoch and
the resolved config), so a snapshot alone is enough to rebuild and evaluate the generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganlab.rules.run_quality import bounded_quality
from ganlab.training.checkpoint import atomic_save, weights_payload

SNAPSHOT_DIR = "snapshots"
BEST = "best"
STOP = "stop"
STOP_ARTIFACT = "checkpoints/stop.pt"


def snapshot_name(epoch: int) -> str:
    return f"epoch_{epoch:06d}.pt"


def epoch_of_name(name: str) -> int | None:
    """10 for 'epoch_000010.pt'; None for other files."""
    stem = Path(name).stem
    if stem.startswith("epoch_") and stem[6:].isdigit():
        return int(stem[6:])
    return None


class SnapshotKeeper:
    """Decides after each epoch which snapshots to write; the writing runs in the
    background, on weights copied at the end of the epoch."""

    def __init__(self, every_n_epochs: int, directory: Path, best_quality: float = -math.inf):
        self.every_n_epochs = every_n_epochs
        self.directory = directory
        self.best_quality = best_quality  # resumed runs start from their history's best

    @staticmethod
    def best_of(history: list[tuple[int, dict[str, float]]]) -> float:
        values = bounded_quality(history)[1]
        return max(values) if values else -math.inf

    def after_epoch(
        self,
        epoch: int,
        last_epoch: int,
        metrics: dict[str, float],
        payload: Callable[[], dict[str, Any]],
        log_artifact: Callable[[Path, str], None],
    ) -> Callable[[], None] | None:
        """The snapshot writing this epoch needs, as work for the background writer (run
        after the epoch's metrics are logged), or None."""
        if self.every_n_epochs <= 0:
            return None
        names = []
        if epoch % self.every_n_epochs == 0 or epoch == last_epoch:
            names.append(snapshot_name(epoch))
        quality = bounded_quality([(epoch, metrics)])[1]
        if quality and quality[0] > self.best_quality:
            self.best_quality = quality[0]
            names.append(f"{BEST}.pt")
        if not names:
            return None
        weights = payload()  # copied now: the next epoch trains while it is written

        def write() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            for name in names:
                atomic_save(weights, self.directory / name)
                log_artifact(self.directory / name, SNAPSHOT_DIR)

        return write


def snapshot_payload(
    epoch: int, parts: Any, ema: Any, run_id: str, config_yaml: str
) -> dict[str, Any]:
    """weights_payload plus the EMA generator's weights when the run keeps one."""
    payload = weights_payload(epoch, parts.generator, parts.discriminator, run_id, config_yaml)
    if ema is not None:
        payload["ema_generator"] = {
            k: v.detach().cpu().clone() for k, v in ema.module.state_dict().items()
        }
    return payload
