"""The generator step takes G's gradients only (`backward(inputs=G's parameters)`): what
G learns must be bit for bit what a full backward gives, for every network here."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ganlab.config import LossConfig, TrainerConfig
from ganlab.config.dataset import RingConfig
from ganlab.config.model import ModelConfig, NetConfig
from ganlab.data import build_mixture
from ganlab.losses import build_formulation
from ganlab.models.dcgan import build_dcgan_pair
from ganlab.training.steps import GanParts, Trainer


class FullBackwardTrainer(Trainer):
    """The G step as written before: one backward into every parameter."""

    def _g_step(self, sigma: float) -> dict[str, torch.Tensor]:
        p = self.parts
        loss = p.formulation.g_loss(
            p.discriminator(self._noisy(p.generator(self._latents()), sigma))
        )
        p.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        p.opt_g.step()
        return {"loss_g": loss.detach()}


def ring_trainer(cls: type[Trainer], loss: str) -> Trainer:
    torch.manual_seed(4)
    g = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    d = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    loss_cfg = LossConfig(name=loss)
    parts = GanParts(
        g,
        d,
        torch.optim.Adam(g.parameters(), 1e-3),
        torch.optim.Adam(d.parameters(), 1e-3),
        build_formulation(loss_cfg),
        build_mixture(RingConfig()),
        2,
        torch.device("cpu"),
    )
    cfg = TrainerConfig(steps_per_epoch=30, batch_size=64, n_critic=2)
    return cls(parts, cfg, loss_cfg, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("loss", ["ns", "wgan_gp", "hinge"])
def test_training_is_bit_identical_to_a_full_backward_g_step(loss: str) -> None:
    ours, reference = ring_trainer(Trainer, loss), ring_trainer(FullBackwardTrainer, loss)
    for _epoch in range(2):
        assert ours.train_epoch() == reference.train_epoch()
    for net in ("generator", "discriminator"):
        mine = getattr(ours.parts, net).state_dict()
        theirs = getattr(reference.parts, net).state_dict()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), net


def test_a_generator_with_a_frozen_layer_trains_and_keeps_it() -> None:
    trainer = ring_trainer(Trainer, "ns")
    frozen = trainer.parts.generator[0]
    frozen.requires_grad_(False)
    before = frozen.weight.detach().clone()
    moving = trainer.parts.generator[2].weight.detach().clone()
    trainer.train_epoch()
    assert torch.equal(frozen.weight, before)
    assert not torch.equal(trainer.parts.generator[2].weight, moving)


@pytest.mark.parametrize(
    ("batch_norm", "spectral_norm", "pggan"),
    [(False, False, False), (True, False, False), (False, True, False), (True, False, True)],
)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_generator_gradients_need_no_discriminator_weight_gradients(
    batch_norm: bool, spectral_norm: bool, pggan: bool, shape: tuple[int, int, int]
) -> None:
    torch.manual_seed(0)
    common = {"width": 16, "batch_norm": batch_norm, "spectral_norm": spectral_norm}
    cfg = ModelConfig(
        g=NetConfig(pixel_norm=pggan, **common), d=NetConfig(minibatch_std=pggan, **common)
    )
    g, d = build_dcgan_pair(cfg, shape)
    g_only, d_only = copy.deepcopy(g), copy.deepcopy(d)
    z = torch.randn(32, cfg.latent_dim)
    torch.nn.functional.softplus(-d(g(z))).mean().backward()
    loss = torch.nn.functional.softplus(-d_only(g_only(z))).mean()
    loss.backward(inputs=list(g_only.parameters()))
    for full, only in zip(g.parameters(), g_only.parameters(), strict=True):
        assert torch.equal(full.grad, only.grad)
    assert all(p.grad is None for p in d_only.parameters())
