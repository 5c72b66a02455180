"""Where ganlab finds its config tree and where the embedded tracking store lives.

The project root is fixed by the package location, never by the working directory:
Hydra may give each job its own directory, and a relative `sqlite:///mlflow.db` would
then scatter one store per job.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # ganlab/ (this file is ganlab/core/)
PROJECT_ROOT = PACKAGE_DIR.parent
CONF_DIR = PROJECT_ROOT / "conf"


def project_root() -> str:
    """Root for default outputs and the embedded store; `GANLAB_ROOT` overrides it."""
    return os.environ.get("GANLAB_ROOT") or str(PROJECT_ROOT)


# A run's latest checkpoint, under its output folder (and as an MLflow artifact path)
CHECKPOINT_ARTIFACT = "checkpoints/last.pt"


def check_writable(folder: Path, flag: str) -> None:
    """One sentence (GanlabError) when `folder` could not be created or written, before
    any work is done for output that would then be lost. Creates nothing: the nearest
    part of the path that exists must be a folder this process may write into."""
    import errno

    from ganlab.core.errors import GanlabError

    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = os.strerror(errno.ENOTDIR)
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = os.strerror(errno.EACCES)
    if problem:
        raise GanlabError(
            f"{flag} {folder}: cannot write there ({problem}); choose a folder you can write to."
        )
