"""Gradient monitors against independent computations (numpy SVD, finite differences,
numerical integration)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm
from torch import nn

from ganlab.config import DualityGapConfig, LossConfig, SteepnessMonitorConfig
from ganlab.config.dataset import CustomConfig
from ganlab.data import build_mixture
from ganlab.losses import build_formulation
from ganlab.monitors.base import EvalState, distribution_stats
from ganlab.monitors.dgrad import input_gradient_norms
from ganlab.monitors.duality_gap import DualityGapMonitor
from ganlab.monitors.jsd import jsd_estimate
from ganlab.monitors.steepness import SteepnessMonitor, steepness_exact, steepness_power
from ganlab.training.signals import grad_norms_per_tensor, total_grad_norms

F64 = torch.float64


def small_mlp(d_in: int, d_out: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(d_in, 32),
        nn.LeakyReLU(0.2),
        nn.Linear(32, 32),
        nn.Tanh(),
        nn.Linear(32, d_out),
    ).eval()


class SmallConvGenerator(nn.Module):
    """A DCGAN-shaped generator: latent -> 4x4 -> 8x8 -> 16x16 image, batch norm frozen."""

    def __init__(self, latent: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(latent, 8 * 4 * 4)
        self.body = nn.Sequential(
            nn.ConvTranspose2d(8, 8, 4, 2, 1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(-1, 8, 4, 4))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).abs() / b.abs()).max().detach())


def test_exact_steepness_of_a_linear_generator_is_its_largest_singular_value() -> None:
    a = np.random.default_rng(0).normal(size=(5, 3))
    g = nn.Linear(3, 5, bias=True)
    with torch.no_grad():
        g.weight.copy_(torch.tensor(a, dtype=torch.float32))
    s = steepness_exact(g, torch.randn(10, 3)).detach()
    assert s.tolist() == pytest.approx([np.linalg.svd(a, compute_uv=False)[0]] * 10, rel=1e-5)


def test_exact_steepness_matches_numpy_svd_of_finite_difference_jacobians() -> None:
    g = small_mlp(3, 4, seed=1).double()
    z = torch.randn(6, 3, dtype=F64)
    h = 1e-6
    expected = []
    for zi in z:
        columns = [(g(zi + h * e) - g(zi - h * e)) / (2 * h) for e in torch.eye(3, dtype=F64)]
        jac = torch.stack(columns, dim=1).detach().numpy()
        expected.append(np.linalg.svd(jac, compute_uv=False)[0])
    assert steepness_exact(g, z).detach().tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("d_z", "d_x", "seed"), [(2, 2, 0), (8, 2, 1), (16, 64, 2), (5, 5, 3)])
def test_power_iteration_agrees_with_exact_on_small_mlps(d_z: int, d_x: int, seed: int) -> None:
    g = small_mlp(d_z, d_x, seed)
    z = torch.randn(300, d_z, generator=torch.Generator().manual_seed(seed))
    exact = steepness_exact(g, z)
    power = steepness_power(g, z, iterations=20, rng=torch.Generator().manual_seed(0))
    assert relative_error(power, exact) < 1e-3


def test_power_iteration_agrees_with_exact_on_a_small_conv_generator() -> None:
    torch.manual_seed(0)
    g = SmallConvGenerator(latent=8)
    g.train()
    g(torch.randn(64, 8))  # give batch norm non-trivial running statistics
    g.eval()
    z = torch.randn(40, 8)
    exact = steepness_exact(g, z)
    power = steepness_power(g, z, iterations=20, rng=torch.Generator().manual_seed(1))
    assert exact.shape == (40,)
    assert relative_error(power, exact) < 1e-3


def test_power_iteration_estimate_never_exceeds_the_exact_value() -> None:
    """A Ritz value is a lower bound: with too few iterations it errs low, never high."""
    g = small_mlp(16, 64, seed=4)
    z = torch.randn(100, 16)
    exact = steepness_exact(g, z)
    rough = steepness_power(g, z, iterations=2, rng=torch.Generator().manual_seed(0))
    assert bool((rough <= exact * (1 + 1e-5)).all())


def test_steepness_monitor_picks_method_by_size_and_reports_distribution() -> None:
    z = torch.randn(64, 2)
    small = SteepnessMonitor(SteepnessMonitorConfig(), z, data_dim=2, seed=0)
    assert small.exact
    big = SteepnessMonitor(SteepnessMonitorConfig(exact_max_size=100), z, data_dim=784, seed=0)
    assert not big.exact
    g = small_mlp(2, 2, seed=5)
    stats = small(EvalState(g, nn.Identity(), 1, torch.device("cpu")))
    values = steepness_exact(g, z).detach()
    assert stats["monitor/steepness_max"] == pytest.approx(float(values.max()), rel=1e-6)
    assert stats["monitor/steepness_p90"] == pytest.approx(
        float(np.quantile(values.numpy(), 0.9)), rel=1e-6
    )
    assert g.training is False  # monitors restore modes; an eval-mode net stays in eval


def test_distribution_stats_match_numpy() -> None:
    v = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    stats = distribution_stats("x", v, ("mean", "median", "p90", "p99", "max"))
    arr = v.double().numpy()
    assert stats == pytest.approx(
        {
            "x_mean": arr.mean(),
            "x_median": np.median(arr),
            "x_p90": np.quantile(arr, 0.9),
            "x_p99": np.quantile(arr, 0.99),
            "x_max": arr.max(),
        }
    )


def test_input_gradient_norms_match_finite_differences() -> None:
    d = small_mlp(3, 1, seed=6).double()
    x = torch.randn(8, 3, dtype=F64)
    h = 1e-6
    expected = []
    for xi in x:
        grad = [(d(xi + h * e) - d(xi - h * e)).item() / (2 * h) for e in torch.eye(3, dtype=F64)]
        expected.append(math.sqrt(sum(v * v for v in grad)))
    assert input_gradient_norms(d, x).tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("loss", ["ns", "mm", "mm_nsat", "wgan", "lsgan", "hinge"])
def test_particle_velocity_of_a_linear_discriminator(loss: str) -> None:
    """D(x) = w.x + b: the per-sample velocity is |dl_G/dl| * ||w||, with dl_G/dl by hand."""
    d = nn.Linear(2, 1).double()
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
        d.bias.fill_(0.1)
    x = torch.randn(16, 2, dtype=F64)
    n = x.shape[0]
    formulation = build_formulation(LossConfig(name=loss))
    velocity = input_gradient_norms(lambda xs: n * formulation.g_loss(d(xs)), x)
    logit = d(x).detach().squeeze(1)
    p = torch.sigmoid(logit)
    slope = {
        "ns": 1 - p,
        "mm": p,
        "mm_nsat": p * (1 - p.mean()) / p.mean(),
        "wgan": torch.ones_like(p),
        "lsgan": (logit - 1).abs(),
        "hinge": torch.ones_like(p),
    }[loss]
    torch.testing.assert_close(velocity, 5 * slope)


def test_epoch_of_grad_norms_matches_clip_grad_norm_per_step() -> None:
    """The trainer keeps each step's per-tensor norms and forms the totals once per
    epoch; each total must be the step's own norm, also when a parameter has no
    gradient on some steps (the lists then differ in length)."""
    net = small_mlp(4, 3, seed=7)
    params = list(net.parameters())
    per_step, expected = [], []
    for step in range(5):
        net.zero_grad(set_to_none=True)
        net(
            torch.randn(10, 4, generator=torch.Generator().manual_seed(step))
        ).square().sum().backward()
        if step == 3:
            params[-1].grad = None  # e.g. a bias frozen for a step
        expected.append(
            float(torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None]))
        )
        per_step.append(grad_norms_per_tensor(params))
    torch.testing.assert_close(
        total_grad_norms(per_step), torch.tensor(expected), rtol=1e-6, atol=0
    )
    same_length = [per_step[i] for i in (0, 1, 2, 4)]
    torch.testing.assert_close(
        total_grad_norms(same_length),
        torch.tensor([expected[i] for i in (0, 1, 2, 4)]),
        rtol=1e-6,
        atol=0,
    )


def js_divergence_of_unit_gaussians(mu: float) -> float:
    """JSD(N(0,1) || N(mu,1)) in nats, by numerical integration."""
    p, q = norm(0, 1).pdf, norm(mu, 1).pdf

    def integrand(x: float) -> float:
        m = 0.5 * (p(x) + q(x))
        return 0.5 * p(x) * math.log(p(x) / m) + 0.5 * q(x) * math.log(q(x) / m)

    return integrate.quad(integrand, -12, 12 + mu)[0]


@pytest.mark.parametrize("mu", [0.5, 2.0])
def test_jsd_estimate_at_the_optimal_discriminator(mu: float) -> None:
    """With D*(x) = log p_real(x) / p_fake(x), L_D = 2 log 2 - 2 JSD (seeds 002/003)."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(400_000, generator=gen, dtype=F64)
    fake = mu + torch.randn(400_000, generator=gen, dtype=F64)

    def optimal_logit(x: torch.Tensor) -> torch.Tensor:
        return -0.5 * x**2 + 0.5 * (x - mu) ** 2

    loss_d = build_formulation(LossConfig(name="ns")).d_loss(
        optimal_logit(real), optimal_logit(fake)
    )
    assert jsd_estimate(float(loss_d)) == pytest.approx(
        js_divergence_of_unit_gaussians(mu), abs=3e-3
    )


def duality_gap_setup(offset: float):
    """Data N(0, I) in 2-D; G(z) = z + offset; D a zero linear map (indifferent)."""
    mixture = build_mixture(CustomConfig(name="gauss", centers=[[0.0, 0.0]], std=1.0))
    g = nn.Linear(2, 2)
    d = nn.Linear(2, 1)
    with torch.no_grad():
        g.weight.copy_(torch.eye(2))
        g.bias.fill_(offset)
        d.weight.zero_()
        d.bias.zero_()
    cfg = DualityGapConfig(steps=100, lr=1e-2, batch_size=256, n_eval=4000)
    monitor = DualityGapMonitor(cfg, build_formulation(LossConfig(name="ns")), mixture, 2, 0)
    return monitor, EvalState(g, d, 1, torch.device("cpu"))


def test_duality_gap_is_near_zero_at_the_equilibrium() -> None:
    monitor, state = duality_gap_setup(offset=0.0)
    stats = monitor(state)
    # D indifferent, G = data: neither worst case can do better than M = -2 log 2
    assert stats["monitor/duality_gap_m_gworst"] == pytest.approx(-2 * math.log(2), abs=1e-6)
    assert stats["monitor/duality_gap"] == pytest.approx(0.0, abs=0.02)


def test_duality_gap_is_large_away_from_equilibrium() -> None:
    monitor, state = duality_gap_setup(offset=3.0)
    stats = monitor(state)
    assert stats["monitor/duality_gap"] > 0.5
    assert stats["monitor/duality_gap_m_dworst"] > -2 * math.log(2) + 0.5
    # the monitor leaves the networks it measured untouched
    assert float(state.discriminator.weight.detach().abs().sum()) == 0.0
    assert all(p.requires_grad for p in state.generator.parameters())


def test_perturbed_duality_gap_is_logged_when_asked() -> None:
    """Worst cases searched from perturbed starts find (nearly) the same gap: ~0 at the
    equilibrium, the unperturbed value away from it; the noise did reach the copies."""
    for offset, tolerance in ((0.0, 0.02), (1.0, 0.05)):
        monitor, state = duality_gap_setup(offset=offset)
        monitor.cfg.perturb_std = 0.5
        stats = monitor(state)
        perturbed, plain = stats["monitor/duality_gap_perturbed"], stats["monitor/duality_gap"]
        assert perturbed == pytest.approx(plain, abs=tolerance), offset
        assert perturbed != plain
    assert plain > 0.3  # away from the equilibrium both are clearly positive
