"""Independent random streams derived from the run's single `seed`.

Model initialisation, training batches and each monitor's fixed evaluation set draw from
separate generators, so turning a monitor on or off never changes the training
trajectory, and a resumed run continues the exact same batches.
"""

from __future__ import annotations

import hashlib

import torch


def stream_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one purpose ("init", "train", "monitor/quality", ...)."""
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(seed: int, purpose: str, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(stream_seed(seed, purpose))
