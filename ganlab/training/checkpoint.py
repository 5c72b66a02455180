"""Checkpoint files: written atomically, read without executing pickled code.

A checkpoint holds everything needed to continue a run bit-for-bit on the same device:
both networks, both optimisers, the epoch, the training RNG state, the MLflow run id
and the resolved config (to refuse resuming under a different config).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch

from ganlab.core.errors import CheckpointError
from ganlab.core.safe_files import UnsafeFileError, load_tensors
from ganlab.core.version import __version__

FORMAT = "ganlab-checkpoint/1"
REQUIRED_KEYS = ("format", "epoch", "trainer", "run_id", "config_yaml")


def atomic_save(payload: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a half-written
    file. A failed write (disk full, quota, permissions) removes the temporary file and
    raises CheckpointError in one sentence; whatever `path` held before is untouched.
    torch reports a full disk as a RuntimeError ("enforce fail at inline_container"),
    not an OSError, so both are caught."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        kept = "the previous file is intact" if path.exists() else "there was no earlier file"
        raise CheckpointError(
            f"cannot write checkpoint {path} ({write_failure(exc)}); {kept}: fix that or set "
            "paths.output_dir elsewhere, then resume with trainer.resume."
        ) from exc


def write_failure(exc: BaseException) -> str:
    """Why a write failed, in words that point at the cause."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror}: the disk or quota is full"
    if isinstance(exc, FileNotFoundError):
        return (
            "No such file or directory: the folder or the file being written was removed "
            "meanwhile, e.g. by another run writing the same folder"
        )
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if "enforce fail" in str(exc) or "write" in str(exc).lower():
        return "torch could not finish writing it: is the disk full?"  # its ENOSPC form
    return f"{type(exc).__name__}: {exc}"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """A run's checkpoint, written atomically (see atomic_save)."""
    atomic_save({"format": FORMAT, "ganlab_version": __version__, **payload}, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`; raise CheckpointError saying what is wrong."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path given to resume.")
    try:
        payload = load_tensors(
            path, "checkpoint", "resume from another checkpoint or start a new run"
        )
    except UnsafeFileError as exc:
        raise CheckpointError(str(exc)) from exc
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
