"""Methods peers ship: R1/R2 penalties (lazy too), simultaneous updates, the EMA generator,
and MM-nsat's reference quality rule, each against an independent computation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from ganlab.config import LossConfig, TrainerConfig
from ganlab.core.errors import ConfigError
from ganlab.data import GaussianMixture
from ganlab.losses import build_formulation, gradient_norm_penalty
from ganlab.monitors.quality import paper_mode_statistics
from ganlab.training.run import train
from ganlab.training.steps import GanParts, Trainer
from tests.conftest import metric_steps, metric_values

F64 = torch.float64


def test_r1_of_a_quadratic_discriminator_matches_its_analytic_gradient() -> None:
    # D(x) = x^T A x + b^T x: grad = (A + A^T) x + b, computed here by hand
    torch.manual_seed(0)
    a, b = torch.randn(3, 3, dtype=F64), torch.randn(3, dtype=F64)

    class Quadratic(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return ((x @ a) * x).sum(1) + x @ b

    x = torch.randn(7, 3, dtype=F64)
    grads = x @ (a + a.T).T + b
    expected = (grads**2).sum(1).mean()
    assert float(gradient_norm_penalty(Quadratic(), x).detach()) == pytest.approx(float(expected))


def tiny_parts(loss: str = "ns") -> GanParts:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    d = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))
    data = GaussianMixture("two", torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), torch.ones(2) / 2, 0.1)
    return GanParts(
        g,
        d,
        torch.optim.SGD(g.parameters(), lr=0.1),
        torch.optim.SGD(d.parameters(), lr=0.1),
        build_formulation(LossConfig(name=loss)),
        data,
        3,
        torch.device("cpu"),
    )


def test_lazy_r1_is_applied_every_kth_d_step_with_k_times_the_weight() -> None:
    parts = tiny_parts()
    cfg = TrainerConfig(steps_per_epoch=8, batch_size=16, n_critic=1)
    loss_cfg = LossConfig(r1_weight=2.0, reg_interval=4)
    trainer = Trainer(parts, cfg, loss_cfg, torch.Generator().manual_seed(1))
    d_before = copy.deepcopy(parts.discriminator)
    rng_state = trainer.rng.get_state()
    stats = trainer._d_step(0.0, d_step=4)  # a step the interval includes
    assert "r1" in stats
    # the same step by hand: the same batch, loss + (gamma / 2) * k * R1, one SGD step
    rng = torch.Generator().manual_seed(0)
    rng.set_state(rng_state)
    real = parts.data.sample(16, rng)
    with torch.no_grad():
        z = torch.randn(16, 3, generator=rng)
    reference = d_before
    fake = parts.generator(z).detach()
    loss = parts.formulation.d_loss(reference(real), reference(fake))
    loss = loss + (2.0 / 2) * 4 * gradient_norm_penalty(reference, real)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    for after, before, grad in zip(
        parts.discriminator.parameters(), reference.parameters(), grads, strict=True
    ):
        torch.testing.assert_close(after.detach(), before.detach() - 0.1 * grad)
    assert "r1" not in trainer._d_step(0.0, d_step=5)  # not on the steps in between


def test_simultaneous_updates_take_both_gradients_before_either_network_moves() -> None:
    parts = tiny_parts()
    g0, d0 = copy.deepcopy(parts.generator), copy.deepcopy(parts.discriminator)
    cfg = TrainerConfig(steps_per_epoch=1, batch_size=16, updates="simultaneous")
    trainer = Trainer(parts, cfg, LossConfig(), torch.Generator().manual_seed(3))
    rng = torch.Generator().manual_seed(3)
    trainer.train_epoch()
    real = parts.data.sample(16, rng)
    z = torch.randn(16, 3, generator=rng)
    l_real, l_fake = d0(real), d0(g0(z))
    grads_d = torch.autograd.grad(
        parts.formulation.d_loss(l_real, l_fake), list(d0.parameters()), retain_graph=True
    )
    grads_g = torch.autograd.grad(parts.formulation.g_loss(l_fake), list(g0.parameters()))
    for net, start, grads in (
        (parts.discriminator, d0, grads_d),
        (parts.generator, g0, grads_g),
    ):
        for after, before, grad in zip(net.parameters(), start.parameters(), grads, strict=True):
            torch.testing.assert_close(after.detach(), before.detach() - 0.1 * grad)


def test_simultaneous_updates_refuse_several_critic_steps() -> None:
    with pytest.raises(ConfigError, match="trainer.n_critic=1"):
        TrainerConfig(updates="simultaneous", n_critic=5)


def test_ema_generator_is_the_exponential_average_of_the_weights_after_each_g_step() -> None:
    parts = tiny_parts()
    decay = 0.9
    cfg = TrainerConfig(steps_per_epoch=3, batch_size=16, ema_decay=decay)
    trainer = Trainer(parts, cfg, LossConfig(), torch.Generator().manual_seed(5))
    # by hand: the average starts at G's weights, then ema = decay ema + (1 - decay) G
    expected = [p.detach().clone() for p in parts.generator.parameters()]
    original_g_step = trainer._g_step
    history: list[list[torch.Tensor]] = []

    def g_step_and_record(sigma: float) -> dict:
        stats = original_g_step(sigma)
        history.append([p.detach().clone() for p in parts.generator.parameters()])
        return stats

    trainer._g_step = g_step_and_record  # type: ignore[method-assign]
    trainer.train_epoch()
    expected = history[0]
    for weights in history[1:]:
        expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights, strict=True)]
    for averaged, wanted in zip(trainer.ema.module.parameters(), expected, strict=True):
        torch.testing.assert_close(averaged.detach(), wanted)


def test_ema_run_logs_the_averaged_generators_quality_beside_the_raw_one(make_cfg, client) -> None:
    run = train(make_cfg("trainer.ema_decay=0.99", "loss.r1_weight=1", "loss.reg_interval=2"))
    assert metric_steps(client, run.run_id, "ema/quality/hq_fraction") == [0, 1, 2, 3]
    raw = metric_values(client, run.run_id, "quality/fd2d")
    ema = metric_values(client, run.run_id, "ema/quality/fd2d")
    assert ema[0] == raw[0]  # before training the average is G itself
    assert ema[1:] != raw[1:]
    assert metric_steps(client, run.run_id, "train/r1") == [1, 2, 3]


def test_paper_quality_rule_matches_a_direct_computation() -> None:
    centers = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    weights = torch.tensor([0.2, 0.3, 0.5])
    mixture = GaussianMixture("three", centers, weights, 0.1)
    samples = torch.tensor(
        [[1.05, 0.02], [0.98, -0.1], [0.0, 1.2], [0.5, 0.5], [-1.0, 0.29], [-1.0, 0.31]]
    )
    stats = paper_mode_statistics(samples, mixture, min_count=1)
    # by hand: modal distance = mean |x - mu| / 0.1 -> hq when < 3
    x, mu = samples.numpy().astype(float), centers.numpy().astype(float)
    dist = np.abs(x[:, None] - mu[None]).mean(2) / 0.1
    nearest, hq = dist.argmin(1), dist.min(1) < 3
    counts = np.bincount(nearest[hq], minlength=3).astype(float)
    assert stats["quality/paper_hq_fraction"] == pytest.approx(hq.mean())  # 4 of 6
    assert stats["quality/paper_modes_covered"] == (counts >= 1).sum()
    from scipy.spatial.distance import jensenshannon

    expected_jsd = jensenshannon(counts / counts.sum(), weights.numpy(), base=2) ** 2
    assert stats["quality/paper_mode_jsd"] == pytest.approx(expected_jsd, rel=1e-6)
