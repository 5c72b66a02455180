"""Imported by the sweep's warm process only (ganlab.launch.sweeps.warm): every registry's
modules loaded once, there.

A registry imports its package's modules the first time it is asked for a name
(ganlab.registry), and a run asks every one of them: the losses, models, monitors, rules,
layouts and datasets. Loaded in the warm process, they are already in each forked job
(~0.25 s a job otherwise, measured in a forked job's profile).
"""

from __future__ import annotations

from ganlab.registry import ALL

for _registry in ALL.values():
    _registry.names()
