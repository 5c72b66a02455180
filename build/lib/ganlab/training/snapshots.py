"""Generator snapshots kept during training, for post-hoc evaluation (`ganlab-eval`).

With `trainer.snapshot_every_n_epochs = N > 0` a run keeps, as MLflow artifacts under
`snapshots/`, the weights at every N-th epoch and at the last (`epoch_000010.pt`). The
best epoch's weights are every run's `checkpoints/best.pt` (ganlab.training.best). Each
file is a `ganlab-weights/1` payload (G, D, the EMA G when there is one, the epoch and the
resolved config), so a snapshot alone is enough to rebuild and evaluate the generator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganlab.training.checkpoint import atomic_save, weights_payload

SNAPSHOT_DIR = "snapshots"
BEST = "best"
BEST_ARTIFACT = "checkpoints/best.pt"  # every run's best weights (ganlab.training.best)


def snapshot_name(epoch: int) -> str:
    return f"epoch_{epoch:06d}.pt"


def epoch_of_name(name: str) -> int | None:
    """10 for 'epoch_000010.pt'; None for other files."""
    stem = Path(name).stem
    if stem.startswith("epoch_") and stem[6:].isdigit():
        return int(stem[6:])
    return None


class SnapshotKeeper:
    """Decides after each epoch whether to write a snapshot; the writing runs in the
    background, on weights copied at the end of the epoch."""

    def __init__(self, every_n_epochs: int, directory: Path):
        self.every_n_epochs = every_n_epochs
        self.directory = directory

    def after_epoch(
        self,
        epoch: int,
        last_epoch: int,
        payload: Callable[[], dict[str, Any]],
        log_artifact: Callable[[Path, str], None],
    ) -> Callable[[], None] | None:
        """The snapshot writing this epoch needs, as work for the background writer (run
        after the epoch's metrics are logged), or None."""
        if self.every_n_epochs <= 0 or not (
            epoch % self.every_n_epochs == 0 or epoch == last_epoch
        ):
            return None
        weights = payload()  # copied now: the next epoch trains while it is written
        path = self.directory / snapshot_name(epoch)

        def write() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_save(weights, path)
            log_artifact(path, SNAPSHOT_DIR)

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
