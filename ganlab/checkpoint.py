"""Checkpoint files: written atomically, read without executing pickled code.

A checkpoint holds everything needed to continue a run bit-for-bit on the same device:
both networks, both optimisers, the epoch, the training RNG state, the MLflow run id
and the resolved config (to refuse resuming under a different config).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ganlab import __version__
from ganlab.errors import CheckpointError

FORMAT = "ganlab-checkpoint/1"
REQUIRED_KEYS = ("format", "epoch", "trainer", "run_id", "config_yaml")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write to a temporary file, then rename: a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save({"format": FORMAT, "ganlab_version": __version__, **payload}, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # disk full, quota, permissions: keep the previous checkpoint
        tmp.unlink(missing_ok=True)
        kept = "the previous checkpoint is intact" if path.exists() else "no earlier checkpoint"
        raise CheckpointError(
            f"cannot write checkpoint {path} ({exc.strerror or exc}); {kept}: free space or "
            "set paths.output_dir elsewhere, then resume with trainer.resume."
        ) from exc


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`; raise CheckpointError saying what is wrong."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path given to resume.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}); it is corrupt or not a "
            "ganlab checkpoint: resume from another checkpoint or start a new run."
        ) from exc
    missing = [k for k in REQUIRED_KEYS if not isinstance(payload, dict) or k not in payload]
    if missing or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"checkpoint {path} is not a {FORMAT} checkpoint (found {found!r}, missing "
            f"{missing or 'nothing'}); resume it with the ganlab version that wrote it."
        )
    return payload


WEIGHTS_FORMAT = "ganlab-weights/1"


def weights_payload(
    epoch: int, generator: Any, discriminator: Any, run_id: str, config_yaml: str
) -> dict[str, Any]:
    """Network weights only (no optimiser or RNG state): for sampling and evaluation."""
    return {
        "format": WEIGHTS_FORMAT,
        "ganlab_version": __version__,
        "epoch": epoch,
        "generator": {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()},
        "discriminator": {
            k: v.detach().cpu().clone() for k, v in discriminator.state_dict().items()
        },
        "run_id": run_id,
        "config_yaml": config_yaml,
    }


class RecentWeights:
    """Weights of the last `keep` evaluation epochs, on disk.

    The stop epoch lies up to patience + window evaluations before the rule triggers, so
    its weights must still exist when the trigger fires; older files are deleted.
    """

    def __init__(self, directory: Path, keep: int) -> None:
        self.directory = directory
        self.keep = keep

    def path(self, epoch: int) -> Path:
        return self.directory / f"epoch_{epoch:06d}.pt"

    def save(self, epoch: int, payload: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path(epoch).with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self.path(epoch))
        for old in sorted(self.directory.glob("epoch_*.pt"))[: -self.keep]:
            old.unlink(missing_ok=True)

    def adopt(self, source: Path) -> None:
        """Take over a previous session's files (resuming a run from another folder)."""
        if source.resolve() == self.directory.resolve() or not source.is_dir():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for file in sorted(source.glob("epoch_*.pt"))[-self.keep :]:
            target = self.directory / file.name
            if not target.exists():
                target.write_bytes(file.read_bytes())
