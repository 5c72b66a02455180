"""`dataset.*`: a 2-D Gaussian mixture or an image dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganlab.config.fields import check_fields, option, require
from ganlab.registry import DATASETS, LAYOUTS

KINDS = ("mixture", "image")


@dataclass
class DatasetConfig:
    """A 2-D Gaussian mixture (`kind: mixture`) or an image dataset (`kind: image`)."""

    name: str = option("ring8", "set by the `dataset` group")
    kind: str = option("mixture", "set by the `dataset` group", choices=KINDS)
    # -- mixtures: `layout` places the centres; `custom` takes them as given
    layout: str = option("ring", "mixtures: how the centres are placed", choices=LAYOUTS.names)
    n_modes: int = option(8, "mixtures: number of modes (custom: the number of centres)", ge=1)
    radius: float = option(2.0, "ring: circle radius; spiral: outer radius", gt=0)
    spacing: float = option(2.0, "grid: distance between neighbouring centres", gt=0)
    inner_radius: float = option(0.5, "spiral: radius of the first mode", ge=0)
    turns: float = option(1.5, "spiral: turns from the first to the last mode", gt=0)
    std: float = option(0.02, "per-mode standard deviation", gt=0)
    centers: list[Any] | None = option(None, "custom: one [x, y] per mode")
    weights: list[float] | None = option(
        None, "mode probabilities (normalised); null = equal (spiral12: 1 to 3, rising)"
    )
    # -- images: one of the DATASETS registry (torchvision datasets, a folder of yours)
    split: str = option("train", "images: `train` or `test`", choices=("train", "test"))
    download: bool = option(True, "images: let torchvision download missing files")
    subset: int | None = option(
        None, "images: use only this many images, drawn with `subset_seed` (CPU studies)", ge=1
    )
    subset_seed: int = option(0, "images: seed of the subset draw")
    path: str | None = option(None, "image_folder: a folder of class sub-folders of images")
    image_size: int = option(
        32, "image_folder: resized (shorter side) and centre-cropped to 28 or 32 pixels"
    )
    channels: int = option(3, "image_folder: 1 (grayscale) or 3 (RGB)")

    def __post_init__(self) -> None:
        check_fields(self, "dataset")
        if self.kind == "image":
            self._check_image()
        else:
            self._check_mixture()

    def _check_mixture(self) -> None:
        if self.layout == "custom":
            require(
                bool(self.centers),
                "dataset.centers is empty; a custom mixture needs at least one [x, y] centre.",
            )
            require(
                all(
                    isinstance(c, list | tuple)
                    and len(c) == 2
                    and all(isinstance(v, int | float) for v in c)
                    for c in self.centers  # type: ignore[union-attr]
                ),
                f"dataset.centers must be a list of [x, y] number pairs, got {self.centers}.",
            )
            self.n_modes = len(self.centers)  # type: ignore[arg-type]
        if self.layout == "grid":
            side = round(self.n_modes**0.5)
            require(
                side * side == self.n_modes,
                f"dataset.n_modes must be a square number for a grid, got {self.n_modes}.",
            )
        if self.weights is not None:
            require(
                len(self.weights) == self.n_modes,
                f"dataset.weights has {len(self.weights)} entries for {self.n_modes} modes.",
            )
            require(
                all(w >= 0 for w in self.weights) and sum(self.weights) > 0,
                "dataset.weights must be non-negative with a positive sum.",
            )

    def _check_image(self) -> None:
        names = DATASETS.names()
        require(
            self.name in names,
            f"dataset.name={self.name!r} is not valid; choose one of: {', '.join(names)}.",
        )
        if self.name == "image_folder":
            require(
                bool(self.path),
                "dataset.path is not set; point it at a folder of images "
                "(dataset=image_folder dataset.path=/my/images).",
            )
            require(
                self.image_size in (28, 32),
                f"dataset.image_size must be 28 or 32 (DCGAN resolutions), got {self.image_size}.",
            )
            require(
                self.channels in (1, 3),
                f"dataset.channels={self.channels!r} is not valid; choose one of: 1, 3.",
            )
