"""Image datasets through torchvision, held in memory as uint8 and sampled like mixtures.

MNIST, Fashion-MNIST and CIFAR-10 (and a folder of the user's images) fit in memory, so a
batch is a random draw of indices from one generator: no DataLoader workers (which clash
with joblib sweeps and make resuming inexact), the same sampling code as the mixtures,
and bit-exact resume. Pixels are scaled to [-1, 1], the range of the generator's tanh.

Without network, torchvision cannot download; the error then names the files and the
folder to put them in.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ganlab.config.dataset import ImageConfig, ImageFolderConfig, PublishedImagesConfig
from ganlab.core.errors import GanlabError
from ganlab.core.safe_files import load_pickle
from ganlab.core.seeding import generator
from ganlab.registry import DATASETS, DatasetSpec, register_dataset

log = logging.getLogger("ganlab")

# torchvision folder and raw files of each dataset, for the offline message
EXPECTED_FILES = {
    "mnist": (
        "MNIST/raw",
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or their .gz)",
    ),
    "fashion_mnist": (
        "FashionMNIST/raw",
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or their .gz)",
    ),
    "cifar10": (
        "cifar-10-batches-py",
        "data_batch_1 ... data_batch_5, test_batch, "
        "batches.meta (the extracted cifar-10-python.tar.gz)",
    ),
}


class DataError(GanlabError):
    """Image files missing or unreadable."""


@dataclass
class ImageData:
    """Images as uint8 (N, C, H, W) with optional labels; `identity` names the exact set."""

    name: str
    images: Tensor
    labels: Tensor | None
    n_classes: int
    # dataset, split, subset, shape and a hash of the content: keys the caches of FID
    # statistics and classifiers
    identity: str

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def dim(self) -> int:
        c, h, w = self.shape
        return c * h * w

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> ImageData:
        labels = None if self.labels is None else self.labels.to(device)
        return ImageData(self.name, self.images.to(device), labels, self.n_classes, self.identity)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images drawn uniformly (with replacement), as floats in [-1, 1]."""
        idx = torch.randint(len(self), (n,), device=self.images.device, generator=generator)
        return to_float(self.images[idx])


def to_float(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped."""
    return ((images.detach() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def to_uint8_rgb(images: Tensor) -> Tensor:
    """float [-1, 1] (N, C, H, W) -> uint8 (N, 3, H, W): grayscale tiled to three channels,
    the input torch-fidelity's feature extractors expect."""
    out = to_uint8(images)
    return out.repeat(1, 3, 1, 1) if out.shape[1] == 1 else out


Loaded = tuple[Tensor, Tensor, int, str]  # images, labels, classes, identity prefix


def _missing(cfg: PublishedImagesConfig, data_root: Path) -> DataError:
    folder, files = EXPECTED_FILES[cfg.name]
    how = (
        "could not be downloaded (no network?)"
        if cfg.download
        else "is not there and dataset.download=false"
    )
    return DataError(
        f"{cfg.name} {how}: put {files} in {data_root / folder}, or set paths.data_root "
        "to the folder that holds them."
    )


def _torchvision(cfg: PublishedImagesConfig, data_root: Path, class_name: str) -> Loaded:
    """MNIST-like datasets through torchvision, whose reader parses the IDX files
    (no pickle involved)."""
    from torchvision import datasets

    cls = getattr(datasets, class_name)
    try:
        dataset = cls(root=str(data_root), train=cfg.split == "train", download=cfg.download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError...
        raise _missing(cfg, data_root) from exc
    images = torch.as_tensor(dataset.data).unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    labels = torch.as_tensor(dataset.targets, dtype=torch.long)
    return images.contiguous(), labels, len(dataset.classes), f"{cfg.name}-{cfg.split}"


for _name, _class, _doc in (
    ("mnist", "MNIST", "MNIST: 60k 28x28 grayscale digits (torchvision)"),
    ("fashion_mnist", "FashionMNIST", "Fashion-MNIST: 60k 28x28 grayscale clothes"),
):
    DATASETS.add(
        _name,
        DatasetSpec(
            lambda cfg, root, _class=_class: _torchvision(cfg, root, _class),
            PublishedImagesConfig,
        ),
        _doc,
    )


CIFAR10_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


@register_dataset("cifar10", settings=PublishedImagesConfig)
def _cifar10(cfg: PublishedImagesConfig, data_root: Path) -> Loaded:
    """CIFAR-10: 50k 32x32 colour images in 10 classes.

    Its python batches are pickles. torchvision unpickles them with no restriction, so a
    crafted batch file would run code; ganlab reads them itself, allowing nothing but
    numpy arrays and plain values (ganlab.core.safe_files). Downloading (dataset.download=true)
    still uses torchvision's checked download of the official archive."""
    import numpy as np

    folder = data_root / EXPECTED_FILES["cifar10"][0]
    names = [*CIFAR10_BATCHES[cfg.split], "batches.meta"]
    if cfg.download and not all((folder / name).is_file() for name in names):
        from torchvision import datasets
        from torchvision.datasets.utils import download_and_extract_archive

        try:
            download_and_extract_archive(
                datasets.CIFAR10.url,
                str(data_root),
                filename=datasets.CIFAR10.filename,
                md5=datasets.CIFAR10.tgz_md5,
            )
        except Exception as exc:  # noqa: BLE001 - URLError, OSError, a bad checksum...
            raise _missing(cfg, data_root) from exc
    if not all((folder / name).is_file() for name in names):
        raise _missing(cfg, data_root)
    fix = "replace it with the file from the official cifar-10-python.tar.gz"
    batches = [load_pickle(folder / name, "CIFAR-10 batch", fix) for name in names[:-1]]
    meta = load_pickle(folder / "batches.meta", "CIFAR-10 metadata", fix)
    try:
        data = np.concatenate([np.asarray(batch["data"], dtype=np.uint8) for batch in batches])
        labels = [int(label) for batch in batches for label in batch["labels"]]
        classes = list(meta["label_names"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"the CIFAR-10 files in {folder} are not CIFAR-10's python batches ({exc!r}); "
            "replace them with the files of the official cifar-10-python.tar.gz."
        ) from exc
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return images, torch.tensor(labels, dtype=torch.long), len(classes), f"cifar10-{cfg.split}"


@register_dataset("image_folder", settings=ImageFolderConfig)
def _image_folder(cfg: ImageFolderConfig, data_root: Path) -> Loaded:
    """Your images: a folder of class sub-folders, resized and centre-cropped."""
    from torchvision import datasets, transforms

    path = Path(str(cfg.path)).expanduser()
    to_mode = (
        transforms.Grayscale(1)
        if cfg.channels == 1
        else transforms.Lambda(lambda image: image.convert("RGB"))
    )
    transform = transforms.Compose(
        [
            to_mode,
            transforms.Resize(cfg.image_size),
            transforms.CenterCrop(cfg.image_size),
            transforms.PILToTensor(),
        ]
    )
    try:
        dataset = datasets.ImageFolder(str(path), transform=transform)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(
            f"no images found in {path}: it must hold one sub-folder per class (a single "
            "sub-folder is fine) of .png/.jpg images; check dataset.path."
        ) from exc
    log.info("loading %d images from %s", len(dataset), path)
    loaded = []
    for index, (file, _) in enumerate(dataset.samples):
        try:
            loaded.append(dataset[index][0])
        except (OSError, ValueError) as exc:  # PIL: truncated, not an image, unreadable
            raise DataError(
                f"cannot read image {file} ({exc}); remove or replace it and run again."
            ) from exc
    images = torch.stack(loaded)
    labels = torch.tensor(dataset.targets, dtype=torch.long)
    return images, labels, len(dataset.classes), f"folder-{path.resolve().name}"


def load_images(cfg: ImageConfig, data_root: str | Path) -> ImageData:
    """The configured image dataset (its `subset` if set), uint8 in memory, CPU."""
    images, labels, n_classes, identity = DATASETS.get(cfg.name).load(cfg, Path(data_root))
    if cfg.subset is not None and cfg.subset < len(images):
        order = torch.randperm(len(images), generator=generator(cfg.subset_seed, "subset"))
        keep = order[: cfg.subset].sort().values
        images, labels = images[keep], labels[keep]
        identity += f"-subset{cfg.subset}s{cfg.subset_seed}"
    c, h, w = images.shape[1:]
    identity += f"-{h}x{w}x{c}-{content_hash(images, labels)}"
    return ImageData(cfg.name, images, labels, n_classes, identity)


def content_hash(images: Tensor, labels: Tensor | None) -> str:
    """8 hex digits of the pixels and labels: caches (classifiers, FID statistics) are
    keyed by what the data *is*, so replacing files under the same name never reuses
    statistics of the old ones (~0.3 s for CIFAR-10's 50,000 images)."""
    digest = hashlib.sha1(images.contiguous().numpy().tobytes())
    if labels is not None:
        digest.update(labels.contiguous().numpy().tobytes())
    return digest.hexdigest()[:8]
