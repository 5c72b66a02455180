"""One run, one output folder: a second run started in a folder in use is refused.

Two runs writing one folder overwrite each other's checkpoint, config and log; the first
run's checkpoint is lost and resuming it would take the other's weights. Output folders
are unique by default (the run's start time and a random token), and a run also holds an
exclusive lock on `<folder>/.ganlab-run.lock` while it trains (fcntl.flock: released
when the process ends, however it ends), so a folder given twice (`hydra.run.dir=...`)
is refused in one sentence before the second run is created.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganlab.core.errors import GanlabError

LOCK_NAME = ".ganlab-run.lock"


class FolderInUse(GanlabError):
    """Another process holds the output folder's lock."""


class FolderLock:
    """The lock of one output folder, held from `acquire` to `release`."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FolderInUse(
                f"output folder {self.path.parent} is in use by another run ({holder}); "
                "give each run its own folder (hydra.run.dir), or wait for that run to end."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
