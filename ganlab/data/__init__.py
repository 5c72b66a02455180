"""Datasets: 2-D mixtures sampled on the fly, image datasets held in memory, or samples a
user's own loop holds (ganlab.Watch).

Both expose `sample(n, generator)`, `to(device)` and `dim`, so the trainer and the
gradient monitors treat them alike.
"""

from __future__ import annotations

from pathlib import Path

from ganlab.config.dataset import DatasetConfig, ImageConfig, MixtureConfig
from ganlab.data.images import ImageData, load_images
from ganlab.data.mixtures import GaussianMixture, build_mixture
from ganlab.data.samples import SampleSet

Data = GaussianMixture | ImageData | SampleSet


def build_data(cfg: DatasetConfig, data_root: str | Path) -> Data:
    """The data a validated dataset config (one of its variants) describes."""
    if isinstance(cfg, MixtureConfig):
        return build_mixture(cfg)
    if isinstance(cfg, ImageConfig):
        return load_images(cfg, data_root)
    raise TypeError(f"no data for {type(cfg).__name__}: validate the config first")


__all__ = [
    "Data",
    "GaussianMixture",
    "ImageData",
    "SampleSet",
    "build_data",
    "build_mixture",
    "load_images",
]
