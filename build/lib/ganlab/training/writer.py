"""Epoch outputs written in the background while the next epoch trains.

Logging an epoch's metrics to MLflow and writing its checkpoint took ~15 ms an epoch on
the MLP GAN here (2-3% of training), plus the figures. One worker thread does that work
while training goes on, in submission order (so an epoch's metrics are always stored
before its checkpoint: a crash between the two replays the epoch on resume, and the
tracker skips what was logged). At most one epoch is in flight: `submit` first waits for
the previous one, so a failure there (disk full, tracking server gone) reaches the
training loop one epoch later at most, and `close` waits for the last.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWriter:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganlab-writer")
        self._pending: Future[Any] | None = None

    def submit(self, work: Callable[..., Any], *args: Any) -> None:
        """Run `work(*args)` after everything submitted before; raise a previous failure."""
        self.wait()
        self._pending = self._executor.submit(work, *args)

    def wait(self) -> None:
        """Block until the submitted work is done; re-raise its exception, if any."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Finish the submitted work (raising its failure) and stop the thread."""
        try:
            self.wait()
        finally:
            self._executor.shutdown(wait=True)
