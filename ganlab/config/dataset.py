"""`dataset.*`: what every dataset shares; each variant owns the rest.

A variant is a way of making data with its own settings: a mixture layout (`ring`,
`grid`, `spiral`, `custom`), a published image dataset with train/test splits (`mnist`,
`fashion_mnist`, `cifar10`) or a folder of your images. Each has its dataclass here,
stored with Hydra under `schema/dataset/<variant>` by `ganlab.config.register`; every file
of `ganlab/conf/dataset/` starts from one (its defaults list), so `dataset=grid25` composes a
grid's fields and nothing else, a run logs only those, and `dataset.spacing=3` on a ring
is refused while composing. docs/configuration.md lists each variant's settings.

A new mixture layout (a function in LAYOUTS) that needs settings of its own gets a
MixtureConfig subclass here and an entry in VARIANTS; one that needs none uses
MixtureConfig as it is (`custom`'s way of passing centres also works for any layout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ganlab.config.fields import check_fields, option, require
from ganlab.core.errors import ConfigError
from ganlab.registry import DATASETS, LAYOUTS

KINDS = ("mixture", "image")


@dataclass
class DatasetConfig:
    """Settings every dataset has; the variant (its `ganlab/conf/dataset/` file) brings the rest."""

    name: str = option("ring8", "set by the `dataset` group: the data's name in run names")
    kind: str = option("mixture", "set by the `dataset` group", choices=KINDS)

    def __post_init__(self) -> None:
        check_fields(self, "dataset")


# -- 2-D Gaussian mixtures: `layout` places the centres ------------------------------------
@dataclass
class MixtureConfig(DatasetConfig):
    """A 2-D Gaussian mixture: `n_modes` centres placed by `layout`, equal spread."""

    layout: str = option(
        "ring", "how the centres are placed (set by the `dataset` group)", choices=LAYOUTS.names
    )
    n_modes: int = option(8, "number of modes (custom: set from `centers`)", ge=1)
    std: float = option(0.02, "per-mode standard deviation", gt=0)
    weights: list[float] | None = option(
        None, "mode probabilities (normalised); null = equal (spiral12: 1 to 3, rising)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weights is not None:
            require(
                len(self.weights) == self.n_modes,
                f"dataset.weights has {len(self.weights)} entries for {self.n_modes} modes.",
            )
            require(
                all(w >= 0 for w in self.weights) and sum(self.weights) > 0,
                "dataset.weights must be non-negative with a positive sum.",
            )


@dataclass
class RingConfig(MixtureConfig):
    """`layout: ring`: the modes evenly on a circle."""

    layout: str = option("ring", "how the centres are placed (set by the `dataset` group)")
    radius: float = option(2.0, "circle radius", gt=0)


@dataclass
class GridConfig(MixtureConfig):
    """`layout: grid`: a square number of modes on a square grid centred on the origin."""

    layout: str = option("grid", "how the centres are placed (set by the `dataset` group)")
    spacing: float = option(2.0, "distance between neighbouring centres", gt=0)

    def __post_init__(self) -> None:
        side = round(self.n_modes**0.5)
        require(
            side * side == self.n_modes,
            f"dataset.n_modes must be a square number for a grid, got {self.n_modes}.",
        )
        super().__post_init__()


@dataclass
class SpiralConfig(MixtureConfig):
    """`layout: spiral`: the modes along a spiral, from the inner to the outer radius."""

    layout: str = option("spiral", "how the centres are placed (set by the `dataset` group)")
    radius: float = option(2.0, "outer radius (of the last mode)", gt=0)
    inner_radius: float = option(0.5, "radius of the first mode", ge=0)
    turns: float = option(1.5, "turns from the first to the last mode", gt=0)


@dataclass
class CustomConfig(MixtureConfig):
    """`layout: custom`: the centres as listed; `n_modes` follows from them."""

    layout: str = option("custom", "how the centres are placed (set by the `dataset` group)")
    centers: list[Any] | None = option(None, "one [x, y] per mode")

    def __post_init__(self) -> None:
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
        super().__post_init__()


# -- images: one of the DATASETS registry --------------------------------------------------
@dataclass
class ImageConfig(DatasetConfig):
    """Images, held in memory as uint8; `subset` makes CPU studies affordable."""

    kind: str = option("image", "set by the `dataset` group", choices=KINDS)
    subset: int | None = option(
        None, "use only this many images, drawn with `subset_seed` (CPU studies)", ge=1
    )
    subset_seed: int = option(0, "seed of the subset draw")

    def __post_init__(self) -> None:
        super().__post_init__()
        names = DATASETS.names()
        require(
            self.name in names,
            f"dataset.name={self.name!r} is not valid; choose one of: {', '.join(names)}.",
        )


@dataclass
class PublishedImagesConfig(ImageConfig):
    """mnist, fashion_mnist, cifar10: published datasets with a train and a test split,
    read from `paths.data_root` in their distributed file formats."""

    split: str = option("train", "`train` or `test`", choices=("train", "test"))
    download: bool = option(True, "let torchvision download missing files")


@dataclass
class ImageFolderConfig(ImageConfig):
    """`dataset=image_folder`: a folder of class sub-folders of your images (one split)."""

    name: str = option("image_folder", "set by the `dataset` group: the data's name")
    path: str | None = option(None, "a folder of class sub-folders of images")
    image_size: int = option(32, "resized (shorter side) and centre-cropped to 28 or 32 pixels")
    channels: int = option(3, "1 (grayscale) or 3 (RGB)")

    def __post_init__(self) -> None:
        super().__post_init__()
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


# The variants, by the name their `schema/dataset/<name>` node is stored under
VARIANTS: dict[str, type[DatasetConfig]] = {
    "ring": RingConfig,
    "grid": GridConfig,
    "spiral": SpiralConfig,
    "custom": CustomConfig,
    "published_images": PublishedImagesConfig,
    "image_folder": ImageFolderConfig,
}


def variant_of(node: Mapping[str, Any]) -> str | None:
    """The variant a composed or stored `dataset` node is (None: a mixture layout a plugin
    added without settings of its own; an image dataset's own name when its DATASETS
    entry brings settings of its own)."""
    if node.get("kind", "mixture") == "image":
        settings = image_config_class(str(node.get("name")))
        built_in = [name for name, cls in VARIANTS.items() if cls is settings]
        return built_in[0] if built_in else str(node.get("name"))
    layout = str(node.get("layout", "ring"))
    return layout if layout in VARIANTS else None


def image_config_class(name: str) -> type[ImageConfig]:
    """The settings of the image dataset `name`, as its DATASETS entry declares them
    (ImageConfig when it declares none)."""
    if name not in DATASETS.names():
        return ImageConfig  # its own check names the choices
    settings: type[ImageConfig] | None = DATASETS.get(name).settings
    return settings or ImageConfig


def dataset_config_class(node: Mapping[str, Any]) -> type[DatasetConfig]:
    """The dataclass of a `dataset` node's variant."""
    if node.get("kind", "mixture") == "image":
        return image_config_class(str(node.get("name")))
    variant = variant_of(node)
    return VARIANTS[variant] if variant is not None else MixtureConfig


def own_fields(node: Mapping[str, Any]) -> dict[str, Any]:
    """`node` without the settings of other variants, for stored configs of runs made
    before each variant had its own node (they carried every variant's fields). Such a
    field is dropped only at the default its variant declares; a set one is an error."""
    cls = dataset_config_class(node)
    mine = {f.name for f in fields(cls)}
    # the defaults those runs had: each field's variant's (where two variants declare one,
    # they agree), the shared mixture fields' from MixtureConfig
    defaults = {
        f.name: f.default
        for variant in (*VARIANTS.values(), MixtureConfig)
        for f in fields(variant)
    }
    kept = {}
    for key, value in node.items():
        if key in mine:
            kept[key] = value
        elif key not in defaults or defaults[key] != value:
            raise ConfigError(foreign_setting(f"dataset.{key}", variant_of(node) or "mixture"))
    return kept


def foreign_setting(key: str, variant: str | None = None) -> str:
    """The sentence for a setting the chosen dataset does not have."""
    which = f" (a {variant} dataset)" if variant else ""
    return (
        f"'{key}' is not a setting of the chosen dataset{which}: each dataset has only its "
        "own settings; `ganlab-train dataset=<name> --cfg job` lists them."
    )


def is_dataset_setting(key: str) -> bool:
    """Whether `dataset.<field>` is a setting of some variant."""
    field = key.removeprefix("dataset.")
    return any(field in {f.name for f in fields(cls)} for cls in VARIANTS.values())
