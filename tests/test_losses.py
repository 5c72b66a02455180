"""Loss formulations against their formulas: values by hand, per-sample gradients by autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlab.config import InstanceNoiseConfig, LossConfig
from ganlab.losses import (
    build_formulation,
    clip_weights,
    gradient_penalty,
    instance_noise_sigma,
)

F64 = torch.float64
LOGITS_REAL = torch.tensor([2.0, -0.5, 0.3, 1.2, -1.7], dtype=F64)
LOGITS_FAKE = torch.tensor([-1.0, 0.4, -2.2, 0.9, 0.05], dtype=F64)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def per_sample_grad(loss_fn, logits: torch.Tensor) -> torch.Tensor:
    leaf = logits.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(leaf), leaf)
    return grad


def d_loss_by_hand(name: str, real: list[float], fake: list[float]) -> float:
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    if name in ("mm", "ns", "mm_nsat"):
        return mean([-math.log(sigmoid(r)) for r in real]) + mean(
            [-math.log(1 - sigmoid(f)) for f in fake]
        )
    if name in ("wgan", "wgan_gp"):
        return mean(fake) - mean(real)
    if name == "lsgan":
        return 0.5 * mean([(r - 1) ** 2 for r in real]) + 0.5 * mean([f**2 for f in fake])
    return mean([max(0, 1 - r) for r in real]) + mean([max(0, 1 + f) for f in fake])


def g_loss_by_hand(name: str, fake: list[float]) -> float:
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {
        "mm": mean([math.log(1 - sigmoid(f)) for f in fake]),
        "ns": mean([-math.log(sigmoid(f)) for f in fake]),
        "wgan": -mean(fake),
        "wgan_gp": -mean(fake),
        "lsgan": 0.5 * mean([(f - 1) ** 2 for f in fake]),
        "hinge": -mean(fake),
    }[name]


@pytest.mark.parametrize("name", ["mm", "ns", "mm_nsat", "wgan", "wgan_gp", "lsgan", "hinge"])
def test_discriminator_loss_matches_formula(name: str) -> None:
    loss = build_formulation(LossConfig(name=name))
    got = loss.d_loss(LOGITS_REAL, LOGITS_FAKE).item()
    assert got == pytest.approx(d_loss_by_hand(name, LOGITS_REAL.tolist(), LOGITS_FAKE.tolist()))


@pytest.mark.parametrize("name", ["mm", "ns", "wgan", "wgan_gp", "lsgan", "hinge"])
def test_generator_loss_matches_formula(name: str) -> None:
    got = build_formulation(LossConfig(name=name)).g_loss(LOGITS_FAKE).item()
    assert got == pytest.approx(g_loss_by_hand(name, LOGITS_FAKE.tolist()))


def test_per_sample_generator_gradients() -> None:
    """MM weights samples by -p/N, NS by -(1-p)/N: the sample weighting of seed 004."""
    n = len(LOGITS_FAKE)
    p = torch.sigmoid(LOGITS_FAKE)
    mm = build_formulation(LossConfig(name="mm")).g_loss
    ns = build_formulation(LossConfig(name="ns")).g_loss
    torch.testing.assert_close(per_sample_grad(mm, LOGITS_FAKE), -p / n)
    torch.testing.assert_close(per_sample_grad(ns, LOGITS_FAKE), -(1 - p) / n)
    lsgan = build_formulation(LossConfig(name="lsgan")).g_loss
    torch.testing.assert_close(per_sample_grad(lsgan, LOGITS_FAKE), (LOGITS_FAKE - 1) / n)


def test_mm_nsat_keeps_mm_weighting_with_ns_magnitude() -> None:
    n = len(LOGITS_FAKE)
    p = torch.sigmoid(LOGITS_FAKE)
    pbar = p.mean()
    mm_nsat = build_formulation(LossConfig(name="mm_nsat")).g_loss
    ns = build_formulation(LossConfig(name="ns")).g_loss
    grad = per_sample_grad(mm_nsat, LOGITS_FAKE)
    # per sample: MM's direction (-p), scaled by the stop-gradient ratio (1 - pbar) / pbar
    torch.testing.assert_close(grad, -p / n * (1 - pbar) / pbar)
    # batch-summed weight equals NS-GAN's
    torch.testing.assert_close(grad.sum(), per_sample_grad(ns, LOGITS_FAKE).sum())
    # relative weights follow p, not 1 - p: the highest-scoring sample gets the most weight
    assert grad.abs().argmax() == p.argmax()


def test_mm_nsat_mixing_weight_interpolates_to_ns() -> None:
    ns = build_formulation(LossConfig(name="ns")).g_loss
    pure_ns = build_formulation(LossConfig(name="mm_nsat", a=0.0)).g_loss
    half = build_formulation(LossConfig(name="mm_nsat", a=0.5)).g_loss
    full = build_formulation(LossConfig(name="mm_nsat", a=1.0)).g_loss
    g = lambda fn: per_sample_grad(fn, LOGITS_FAKE)  # noqa: E731
    torch.testing.assert_close(g(pure_ns), g(ns))
    torch.testing.assert_close(g(half), 0.5 * g(full) + 0.5 * g(ns))


def test_mm_nsat_finite_when_discriminator_is_certain() -> None:
    certain = torch.full((4,), -200.0, dtype=F64)  # p == 0 in float64
    mm_nsat = build_formulation(LossConfig(name="mm_nsat")).g_loss
    assert torch.isfinite(per_sample_grad(mm_nsat, certain)).all()


def test_gradient_penalty_of_linear_critic() -> None:
    """For D(x) = w.x the input gradient is w everywhere: penalty = (||w|| - 1)^2."""
    critic = nn.Linear(3, 1, bias=True)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[2.0, -1.0, 2.0]]))  # ||w|| = 3
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(4.0)


def test_gradient_penalty_matches_finite_differences() -> None:
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    real, fake = torch.randn(6, 2, dtype=F64), torch.randn(6, 2, dtype=F64)
    gen = torch.Generator().manual_seed(1)
    got = gradient_penalty(critic, real, fake, gen).item()
    t = torch.rand((6, 1), generator=torch.Generator().manual_seed(1), dtype=F64)
    x_hat = t * real + (1 - t) * fake
    h = 1e-6
    norms = []
    for x in x_hat:
        grad = [
            (critic(x + h * e).item() - critic(x - h * e).item()) / (2 * h)
            for e in torch.eye(2, dtype=F64)
        ]
        norms.append(math.hypot(*grad))
    assert got == pytest.approx(sum((n - 1) ** 2 for n in norms) / len(norms), rel=1e-6)


def test_gradient_penalty_trains_through_the_critic() -> None:
    critic = nn.Linear(2, 1)
    gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2)).backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_weight_clipping() -> None:
    net = nn.Linear(4, 4)
    with torch.no_grad():
        net.weight.mul_(100)
    clip_weights(net, 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())


def test_instance_noise_anneals_linearly_to_zero() -> None:
    cfg = InstanceNoiseConfig(sigma0=0.4, anneal_epochs=4)
    assert [instance_noise_sigma(cfg, e) for e in range(1, 7)] == pytest.approx(
        [0.4, 0.3, 0.2, 0.1, 0.0, 0.0]
    )
    assert instance_noise_sigma(InstanceNoiseConfig(sigma0=0.2, anneal_epochs=0), 50) == 0.2
    assert instance_noise_sigma(InstanceNoiseConfig(), 1) == 0.0
