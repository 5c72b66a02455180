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
# the Hydra config groups ship inside the package, so an installed wheel finds them too
CONF_DIR = PACKAGE_DIR / "conf"
# a clone (or an editable install of one) rather than a wheel installed into site-packages
IN_A_CLONE = (PROJECT_ROOT / "pyproject.toml").is_file()
# the collapse benchmark's trajectory set and seals: the clone's benchmarks/collapse/, or
# the copies a wheel carries (ganlab/study/benchmark_data/ links to them in a clone)
BENCHMARK_DATA = (
    PROJECT_ROOT / "benchmarks" / "collapse"
    if IN_A_CLONE
    else PACKAGE_DIR / "study" / "benchmark_data"
)


def project_root() -> str:
    """Root for default outputs and the embedded store: `GANLAB_ROOT`, else the clone's
    folder, else (an installed wheel) the current folder."""
    return os.environ.get("GANLAB_ROOT") or str(PROJECT_ROOT if IN_A_CLONE else Path.cwd())


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
