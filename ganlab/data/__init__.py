"""Datasets. Synthetic mixtures are sampled on the fly; an epoch is a step count."""

from ganlab.data.mixtures import GaussianMixture, build_mixture

__all__ = ["GaussianMixture", "build_mixture"]
