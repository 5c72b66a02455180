"""What machine a run trained on: the CPU model, kept beside the commit and torch version.

The same commit and seed give bit-identical runs on one machine, and different runs on a
CPU of another model (floating point differs in the last bits, and GAN training amplifies
it within a few epochs). A run's provenance therefore names the CPU it trained on, so two
runs are compared as a pair only when both came from the same kind of machine.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path


@cache
def cpu_model() -> str:
    """The CPU's model name ('AMD EPYC', 'Intel(R) Xeon(R) ...'), or the architecture
    when the system does not say."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"
