"""Tiny image datasets written in the true on-disk formats torchvision reads.

MNIST / Fashion-MNIST: IDX files (big-endian int32 header, then uint8 pixels or labels).
CIFAR-10: pickled python dicts of uint8 rows (3072 = 3 x 32 x 32, channel-major) and
labels, one per batch file, plus batches.meta.

Each class is drawn as a bright block at a class-specific place, with noise, so a small
classifier can learn the labels and coverage statistics are meaningful.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def class_images(n: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, channels, size, size) uint8 images and their labels 0..9."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, channels, size, size)).astype(np.uint8)
    block = size // 4
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 4)
        r0, c0 = row * block + 1, col * block
        images[i, :, r0 : r0 + block, c0 : c0 + block] = 230
    return images, labels.astype(np.uint8)


def write_idx_images(path: Path, images: np.ndarray) -> None:
    n, rows, cols = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, rows, cols) + images.tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.tobytes())


def write_mnist(root: Path, folder: str = "MNIST", n_train: int = 600, n_test: int = 100) -> Path:
    """`root/<folder>/raw/` with the four IDX files, as torchvision's MNIST expects."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = class_images(n, 28, 1, seed)
        image_file, label_file = MNIST_FILES[split]
        write_idx_images(raw / image_file, images[:, 0])
        write_idx_labels(raw / label_file, labels)
    return raw


def write_cifar10(root: Path, per_batch: int = 60) -> Path:
    """`root/cifar-10-batches-py/` with five training batches, a test batch and the meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ]
    for seed, name in enumerate(names):
        images, labels = class_images(per_batch, 32, 3, seed)
        batch = {
            "batch_label": name,
            "data": images.reshape(per_batch, -1),
            "labels": [int(x) for x in labels],
            "filenames": [f"{i}.png" for i in range(per_batch)],
        }
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle)
    meta = {
        "label_names": [
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ],
        "num_cases_per_batch": per_batch,
    }
    with (folder / "batches.meta").open("wb") as handle:
        pickle.dump(meta, handle)
    return folder
