"""Mixture layouts and quality metrics against hand computations and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import jensenshannon

from ganlab.config.dataset import CustomConfig, GridConfig, RingConfig, SpiralConfig
from ganlab.data import build_mixture
from ganlab.monitors.frechet import frechet_distance_samples
from ganlab.monitors.quality import js_distance, mode_statistics


def test_ring8_has_eight_distinct_modes_on_radius_two() -> None:
    ring = build_mixture(RingConfig(name="ring8", n_modes=8, radius=2.0))
    assert ring.n_modes == 8
    torch.testing.assert_close(ring.centers.norm(dim=1), torch.full((8,), 2.0))
    assert torch.cdist(ring.centers, ring.centers).add(torch.eye(8) * 9).min() > 1.5
    torch.testing.assert_close(ring.centers[2], torch.tensor([0.0, 2.0]), atol=1e-6, rtol=0)


def test_grid25_centres_follow_the_convention() -> None:
    grid = build_mixture(GridConfig(name="grid25", n_modes=25, spacing=2.0))
    expected = {(-4 + 2 * i, -4 + 2 * j) for i in range(5) for j in range(5)}
    assert {tuple(round(v) for v in c) for c in grid.centers.tolist()} == expected


def test_spiral_and_custom_weights_are_normalised() -> None:
    spiral = build_mixture(SpiralConfig(name="s", n_modes=3, weights=[1.0, 2.0, 1.0]))
    torch.testing.assert_close(spiral.weights, torch.tensor([0.25, 0.5, 0.25]))
    custom = build_mixture(CustomConfig(name="c", centers=[[0, 0], [5, 5]]))
    assert custom.n_modes == 2
    torch.testing.assert_close(custom.weights, torch.tensor([0.5, 0.5]))


def test_sampling_matches_weights_and_std() -> None:
    mix = build_mixture(CustomConfig(name="c", centers=[[0, 0], [10, 0]], weights=[1, 3], std=0.5))
    x = mix.sample(40_000, torch.Generator().manual_seed(0))
    right = x[:, 0] > 5
    assert right.float().mean().item() == pytest.approx(0.75, abs=0.01)
    assert x[right].std(dim=0).tolist() == pytest.approx([0.5, 0.5], abs=0.01)


def test_sampling_is_reproducible_with_a_generator() -> None:
    ring = build_mixture(RingConfig())
    a = ring.sample(10, torch.Generator().manual_seed(3))
    b = ring.sample(10, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


@pytest.fixture
def square():
    """Four modes at the corners of a square, std 0.1, equal weights."""
    return build_mixture(CustomConfig(name="sq", centers=[[0, 0], [4, 0], [0, 4], [4, 4]], std=0.1))


def test_perfect_samples_cover_every_mode(square) -> None:
    samples = square.centers.repeat_interleave(25, dim=0)
    stats = mode_statistics(samples, square, hq_std=3.0, min_count=20)
    assert stats["quality/hq_fraction"] == 1.0
    assert stats["quality/modes_covered"] == 4.0
    assert stats["quality/mode_js"] == pytest.approx(0.0, abs=1e-7)
    assert [stats[f"quality/mode_hq_count/{m}"] for m in range(4)] == [25.0] * 4


def test_partial_coverage_counts_by_hand(square) -> None:
    # 30 at mode 0 (inside 3 std), 10 at mode 1 (inside), 5 near mode 2 but 0.5 away
    # (5 std: not high quality), 15 between modes (far from every centre)
    samples = torch.cat(
        [
            torch.tensor([[0.05, 0.0]]).repeat(30, 1),
            torch.tensor([[4.0, 0.25]]).repeat(10, 1),
            torch.tensor([[0.0, 4.5]]).repeat(5, 1),
            torch.tensor([[2.0, 2.0]]).repeat(15, 1),
        ]
    )
    stats = mode_statistics(samples, square, hq_std=3.0, min_count=20)
    assert stats["quality/hq_fraction"] == pytest.approx(40 / 60)
    assert stats["quality/modes_covered"] == 1.0  # mode 1 has 10 < 20
    assert mode_statistics(samples, square, 3.0, min_count=10)["quality/modes_covered"] == 2.0
    assert stats["quality/mode_js"] == pytest.approx(
        jensenshannon([30, 10, 0, 0], [1, 1, 1, 1], base=2)
    )


def test_no_high_quality_sample_is_maximally_distant(square) -> None:
    stats = mode_statistics(torch.full((50, 2), 2.0), square, 3.0, 20)
    assert stats["quality/hq_fraction"] == 0.0
    assert stats["quality/modes_covered"] == 0.0
    assert stats["quality/mode_js"] == 1.0


def test_js_distance_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, q = rng.random(7), rng.random(7)
        p[rng.integers(7)] = 0.0
        assert js_distance(torch.tensor(p), torch.tensor(q)) == pytest.approx(
            jensenshannon(p, q, base=2), rel=1e-9
        )


def frechet_scipy(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook FID formula with scipy's general matrix square root."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("dim", [2, 5, 32])
def test_frechet_distance_matches_scipy(dim: int) -> None:
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(dim, dim))
    x = rng.normal(size=(500, dim)) @ a + 1.0
    y = rng.normal(size=(400, dim)) * 0.5
    got = frechet_distance_samples(torch.tensor(x), torch.tensor(y))
    assert got == pytest.approx(frechet_scipy(x, y), rel=1e-6)


def test_frechet_distance_of_a_set_with_itself_is_zero() -> None:
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    assert frechet_distance_samples(x, x) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance_samples(x, x + 1.0) == pytest.approx(2.0, rel=1e-6)


def test_frechet_distance_between_known_gaussians() -> None:
    """N(0, I) vs N(0, 4I) in 2-D: FD = tr(I + 4I - 2*2I) = 2 (large-sample limit)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(200_000, 2, generator=gen, dtype=torch.float64)
    y = 2 * torch.randn(200_000, 2, generator=gen, dtype=torch.float64)
    assert frechet_distance_samples(x, y) == pytest.approx(2.0, abs=0.05)
    # three points each: singular-ish covariances, where a naive sqrtm goes complex; the
    # value must equal scipy's general matrix square root (real part) on the same moments
    a, b = x[:3].numpy(), y[:3].numpy()
    ca, cb = np.cov(a.T), np.cov(b.T)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(
        ca + cb - 2 * np.real(scipy.linalg.sqrtm(ca @ cb))
    )
    assert frechet_distance_samples(x[:3], y[:3]) == pytest.approx(expected, rel=1e-6, abs=1e-9)
