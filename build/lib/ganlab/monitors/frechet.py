"""Frechet distance between two Gaussians fitted to sample sets (the FID formula).

FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}). The trace of the matrix square
root is computed as sum(sqrt(eig(A S2 A))) with A = S1^{1/2}, which is symmetric PSD, so
the result is real and stable without a general (complex) sqrtm.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gaussian_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of rows of x, in float64."""
    x = x.detach().double().reshape(x.shape[0], -1)
    return x.mean(0), torch.atleast_2d(torch.cov(x.T))


def _psd_sqrt(matrix: Tensor) -> Tensor:
    eigvals, eigvecs = torch.linalg.eigh(matrix)
    return (eigvecs * eigvals.clamp(min=0).sqrt()) @ eigvecs.T


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_sqrt
    return float(value.clamp(min=0))


def frechet_distance_samples(x: Tensor, y: Tensor) -> float:
    return frechet_distance(*gaussian_moments(x), *gaussian_moments(y))
