"""Python's cyclic garbage collector, paused while a command starts up.

Starting a run imports torch, MLflow with SQLAlchemy, Hydra and matplotlib: hundreds of
thousands of long-lived objects and almost no cyclic garbage. The collector does not
know that: each full pass walks the whole heap built so far, and a default run made nine
of them before its first training step, 1.1 s in all, the last alone 0.3 s
(benchmarks/README.md, "startup.py").

So `ganlab-train` pauses the collector when it starts and resumes it once the run is
about to train (or, in a sweep's launcher, once the sweep's parent run exists): what
survived start-up moves to the permanent generation (`gc.freeze`), where later passes
never walk it, and collection goes on as usual for whatever training allocates. The
warm process that sweep jobs fork from pauses it the same way while it imports; each
forked job resumes it when its run is about to train, so its passes never walk (nor
copy, page by page) the heap it shares with the warm process, which Python's own
documentation of `gc.freeze` recommends for a fork without exec.

The cost is memory, once: cyclic garbage made during start-up (~83,000 objects in a
default run, Hydra's composed configs among them) is frozen with the rest and never
freed, 20-40 MB of peak RSS. Collecting it before the freeze would take 0.5 s, a third of
what the pause saves.

`resume` does nothing unless `pause` was called in this process (or the process it was
forked from), so library code calling it (`ganlab.training.run.train`) leaves other
programs' collectors alone.
"""

from __future__ import annotations

import gc

_paused = False  # this module turned the collector off (and it was on before)


def pause() -> None:
    """Turn the collector off for start-up, if it is on."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze everything allocated so far and turn the collector back on, if `pause`
    turned it off; otherwise do nothing."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def paused() -> bool:
    """Whether `pause` has the collector off now."""
    return _paused
