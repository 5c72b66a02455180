"""Imported by the sweep's warm process only (the first module it preloads): when the
sweep is over, that process exits without tearing down its modules.

The warm process (ganlab.launch.sweeps.warm) holds torch, MLflow and matplotlib. It ends when
`ganlab-train -m` exits, and CPython's teardown of those modules then takes 1.5-3 s of
CPU after the command has returned, competing with whatever the user runs next, and
keeping open any pipe the sweep's output goes to (`ganlab-train -m ... | tee log` waits
for it). Registered first, this handler runs after every other atexit handler
(they run last-registered first), then leaves with `os._exit`. The jobs forked from the
warm process never run atexit handlers: multiprocessing ends each with `os._exit`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys


def _exit_without_teardown() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


atexit.register(_exit_without_teardown)
