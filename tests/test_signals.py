"""Discriminator confidence, step-level signals and learning-rate steps, checked against
independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganlab.config import (
    DiscriminatorConfidenceConfig,
    LossConfig,
    OptimizerConfig,
    SignalsConfig,
    TrainerConfig,
)
from ganlab.config.dataset import RingConfig
from ganlab.data import build_mixture
from ganlab.losses import build_formulation
from ganlab.monitors.base import EvalState
from ganlab.monitors.dconf import DiscriminatorConfidenceMonitor, confidence_stats
from ganlab.training.signals import ActivationProbe, logit_magnitudes, relative_change
from ganlab.training.steps import GanParts, Trainer


def test_confidence_stats_match_numpy() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(1.0, 1.0, 500), rng.normal(-0.5, 1.0, 400)
    stats = confidence_stats(torch.tensor(real), torch.tensor(fake), 0.0)
    assert stats["monitor/d_sign_real"] == pytest.approx(np.sign(real).mean())
    assert stats["monitor/d_sign_fake"] == pytest.approx(np.sign(fake).mean())
    acc_real, acc_fake = (real > 0).mean(), (fake <= 0).mean()
    assert stats["monitor/d_acc_real"] == pytest.approx(acc_real)
    assert stats["monitor/d_acc"] == pytest.approx((acc_real + acc_fake) / 2)
    assert stats["monitor/d_logit_fake_mean"] == pytest.approx(fake.mean())


def test_lsgan_threshold_and_critics_use_the_midpoint_of_medians() -> None:
    real, fake = torch.tensor([0.6, 0.7, 0.3]), torch.tensor([0.2, 0.55, 0.1])
    assert build_formulation(LossConfig(name="lsgan")).decision_threshold == 0.5
    assert confidence_stats(real, fake, 0.5)["monitor/d_acc_real"] == pytest.approx(2 / 3)
    # a WGAN critic shifted by +100 is the same critic: the accuracy must not change
    assert build_formulation(LossConfig(name="wgan")).decision_threshold is None
    shifted = confidence_stats(real + 100, fake + 100, None)
    assert shifted["monitor/d_acc"] == confidence_stats(real, fake, None)["monitor/d_acc"]
    # medians 0.6 and 0.2: threshold 0.4; reals above it 2/3, fakes at or below 2/3
    assert shifted["monitor/d_acc"] == pytest.approx(2 / 3)


def test_confidence_monitor_reads_d_on_both_sets() -> None:
    generator = nn.Linear(2, 2)
    discriminator = nn.Linear(2, 1)
    with torch.no_grad():
        generator.weight.copy_(torch.eye(2))
        generator.bias.fill_(-3.0)  # fakes far at (-3, -3) + z
        discriminator.weight.fill_(1.0)
        discriminator.bias.zero_()
    monitor = DiscriminatorConfidenceMonitor(
        DiscriminatorConfidenceConfig(),
        torch.zeros(10, 2),
        torch.full((10, 2), 2.0),
        build_formulation(LossConfig()),
    )
    stats = monitor(EvalState(generator, discriminator, 1, torch.device("cpu")))
    assert stats["monitor/d_acc"] == 1.0 and stats["monitor/d_sign_real"] == 1.0
    assert stats["monitor/d_logit_real_mean"] == pytest.approx(4.0)
    assert stats["monitor/d_logit_fake_mean"] == pytest.approx(-6.0)


@pytest.mark.parametrize("second_batch", [8, 3])  # same-sized outputs, and not
def test_activation_probe_records_layer_rms_only_when_active(second_batch: int) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    probe = ActivationProbe({"d": net})
    x1, x2 = torch.randn(8, 3), torch.randn(second_batch, 3) * 4
    net(torch.randn(8, 3) * 100)  # inactive: ignored
    assert not any(layer._forward_hooks for layer in net)  # unsampled steps keep the fast path
    probe.active = True
    net(x1)
    net(x2)
    probe.active = False
    assert not any(layer._forward_hooks for layer in net)
    stats = probe.epoch_stats()
    hidden = [net[0](x).detach() for x in (x1, x2)]
    out = [net(x).detach() for x in (x1, x2)]
    expected0 = max(float(h.pow(2).mean().sqrt()) for h in hidden)
    expected1 = max(float(o.pow(2).mean().sqrt()) for o in out)
    assert stats["train/act_d_rms/0"] == pytest.approx(expected0, rel=1e-6)
    assert stats["train/act_d_rms/1"] == pytest.approx(expected1, rel=1e-6)
    assert stats["train/act_d_rms_max"] == pytest.approx(max(expected0, expected1), rel=1e-6)
    assert probe.epoch_stats() == {}  # reset after reading
    probe.remove()


def test_relative_change_and_logit_magnitudes() -> None:
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[3.0, 4.0]]))
    before = torch.tensor([3.0, 4.0])
    with torch.no_grad():
        net.weight.add_(torch.tensor([[0.0, 0.5]]))
    assert relative_change(before, net) == pytest.approx(0.5 / 5.0)
    real = [torch.tensor([[1.0], [-3.0]]), torch.tensor([[-10.0], [10.0]])]
    fake = [torch.tensor([[2.0], [0.0]]), torch.tensor([[-6.0], [2.0]])]
    # step means of |logit| over real and fake together: 1.5 and 7
    stats = logit_magnitudes(real, fake)
    assert stats == {"train/d_logit_abs_mean": 4.25, "train/d_logit_abs_max": 7.0}
    # batches of different sizes are reduced step by step, to the same definition
    ragged = logit_magnitudes(real + [torch.tensor([[4.0]])], fake + [torch.tensor([[-4.0]])])
    assert ragged == pytest.approx(
        {"train/d_logit_abs_mean": 12.5 / 3, "train/d_logit_abs_max": 7.0}, rel=1e-6
    )


def test_logit_magnitudes_of_an_epoch_match_a_mean_per_step() -> None:
    generator = torch.Generator().manual_seed(3)
    real = [torch.randn(64, 1, generator=generator) * (1 + i) for i in range(50)]
    fake = [torch.randn(64, 1, generator=generator) - i / 10 for i in range(50)]
    per_step = np.array(
        [
            np.abs(np.concatenate([r.numpy(), f.numpy()])).mean()
            for r, f in zip(real, fake, strict=True)
        ]
    )
    stats = logit_magnitudes(real, fake)
    assert stats["train/d_logit_abs_mean"] == pytest.approx(per_step.mean(), rel=1e-6)
    assert stats["train/d_logit_abs_max"] == pytest.approx(per_step.max(), rel=1e-6)


def test_learning_rate_steps_like_multistep_lr() -> None:
    cfg = OptimizerConfig(lr=1e-3, milestones=[2, 4], gamma=10.0)
    params = [nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD(params, lr=1e-3)
    reference = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4], gamma=10.0)
    for epoch in range(1, 7):
        assert cfg.lr_at(epoch) == pytest.approx(optimizer.param_groups[0]["lr"]), epoch
        optimizer.step()
        reference.step()


def small_ring_parts(seed: int, d_optimizer: type[torch.optim.Optimizer]) -> GanParts:
    """Two small MLPs on ring8, G with Adam, D with `d_optimizer`."""
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    d = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return GanParts(
        g,
        d,
        torch.optim.Adam(g.parameters(), 1e-3),
        d_optimizer(d.parameters(), 1e-3),
        build_formulation(LossConfig()),
        build_mixture(RingConfig()),
        2,
        torch.device("cpu"),
    )


def test_trainer_logs_the_signals_and_applies_the_schedule() -> None:
    parts = small_ring_parts(0, torch.optim.Adam)
    from ganlab.config import OptimConfig

    optim = OptimConfig(d=OptimizerConfig(lr=1e-3, milestones=[1], gamma=5.0))
    trainer = Trainer(
        parts,
        TrainerConfig(steps_per_epoch=20, batch_size=32),
        LossConfig(),
        torch.Generator().manual_seed(0),
        signals=SignalsConfig(every_n_steps=5),
        optim=optim,
    )
    first = trainer.train_epoch()
    assert parts.opt_d.param_groups[0]["lr"] == pytest.approx(1e-3)
    second = trainer.train_epoch()
    assert parts.opt_d.param_groups[0]["lr"] == pytest.approx(5e-3)
    for metrics in (first, second):
        assert {"train/d_logit_abs_max", "train/act_g_rms_max", "train/g_update_rel"} <= set(
            metrics
        )
        assert metrics["train/d_logit_abs_max"] >= metrics["train/d_logit_abs_mean"] > 0
        assert metrics["train/g_update_rel"] > 0


@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
def test_trainer_logs_each_steps_own_gradient_norms(updates: str) -> None:
    """The logged mean and max are over each step's gradient norm as the optimiser sees
    it, read independently by a hook on the optimiser's step (D's are its own step's,
    nothing from G's step added)."""
    parts = small_ring_parts(1, torch.optim.RMSprop)
    seen: dict[str, list[float]] = {"g": [], "d": []}
    for net, optimizer, module in (
        ("g", parts.opt_g, parts.generator),
        ("d", parts.opt_d, parts.discriminator),
    ):

        def before_step(_opt, _args, _kwargs, net=net, module=module) -> None:
            grads = [p.grad for p in module.parameters() if p.grad is not None]
            seen[net].append(float(torch.nn.utils.get_total_norm(grads)))

        optimizer.register_step_pre_hook(before_step)
    trainer = Trainer(
        parts,
        TrainerConfig(steps_per_epoch=37, batch_size=32, updates=updates),
        LossConfig(),
        torch.Generator().manual_seed(0),
        track_grad_norms=True,
    )
    for _epoch in range(2):
        metrics = trainer.train_epoch()
        for net in ("g", "d"):
            assert len(seen[net]) == 37
            assert metrics[f"monitor/grad_norm_{net}_mean"] == pytest.approx(
                np.mean(seen[net]), rel=1e-5
            )
            assert metrics[f"monitor/grad_norm_{net}_max"] == pytest.approx(
                max(seen[net]), rel=1e-5
            )
            seen[net].clear()
