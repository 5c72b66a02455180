"""Duality gap (Grnarova et al. 2019): how far (G, D) is from an equilibrium.

DG = M(G, D_worst) - M(G_worst, D), where M(G, D) is the game's value for D, here minus
the configured discriminator loss (for the logistic losses exactly mean log sigmoid(D(x))
+ mean log(1 - sigmoid(D(G(z))))). D_worst is a copy of D trained to maximise M against
the frozen G; G_worst a copy of G trained to minimise it against the frozen D; both for
`steps` Adam steps with fresh optimiser state, then M is evaluated on a held-out set of
real samples and latents fixed for the run. The perturbed variant adds Gaussian noise of
std `perturb_std` to the copied weights before optimising them.

The two values of M are logged too, so the gap can be decomposed later.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganlab.config import DualityGapConfig
from ganlab.core.seeding import generator
from ganlab.data import Data
from ganlab.losses import Formulation
from ganlab.monitors.base import EvalState, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor


def game_value(formulation: Formulation, d: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """M(G, D): the discriminator's objective (minus its loss)."""
    return -formulation.d_loss(d(real), d(fake))


class DualityGapMonitor:
    name = "duality_gap"
    makes_figures = False
    measures_samples = False

    def __init__(
        self,
        cfg: DualityGapConfig,
        formulation: Formulation,
        mixture: Data,
        latent_dim: int,
        seed: int,
    ) -> None:
        self.cfg = cfg
        self.every_n_epochs = cfg.every_n_epochs
        self.formulation = formulation
        self.mixture = mixture
        self.latent_dim = latent_dim
        self.seed = seed
        held_out = generator(seed, "monitor/duality_gap/held_out")
        self.real_eval = mixture.to("cpu").sample(cfg.n_eval, held_out)
        self.z_eval = torch.randn(cfg.n_eval, latent_dim, generator=held_out)

    def _perturb(self, module: nn.Module, std: float, rng: torch.Generator) -> None:
        if std > 0:
            with torch.no_grad():
                for p in module.parameters():
                    p.add_(std * torch.randn(p.shape, device=p.device, generator=rng))

    def _optimise(
        self,
        module: nn.Module,
        loss: Callable[[nn.Module], Tensor],
        std: float,
        rng: torch.Generator,
    ) -> nn.Module:
        """A perturbed copy of `module`, trained for `steps` Adam steps on `loss(copy)`."""
        copy_ = copy.deepcopy(module).requires_grad_(True)
        self._perturb(copy_, std, rng)
        opt = torch.optim.Adam(copy_.parameters(), lr=self.cfg.lr)
        for _ in range(self.cfg.steps):
            value = loss(copy_)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
        return copy_.requires_grad_(False)

    def gap(self, state: EvalState, std: float) -> tuple[float, float, float]:
        """(DG, M(G, D_worst), M(G_worst, D)) for weight-noise std `std`."""
        g, d, device = state.generator, state.discriminator, state.device
        rng = generator(self.seed, f"monitor/duality_gap/epoch{state.epoch}/std{std}", device)
        real, z = self.real_eval.to(device), self.z_eval.to(device)
        with evaluating(g, d):
            frozen = [p.requires_grad for p in (*g.parameters(), *d.parameters())]
            try:
                for p in (*g.parameters(), *d.parameters()):
                    p.requires_grad_(False)
                mixture, batch = self.mixture.to(device), self.cfg.batch_size

                def latents() -> Tensor:
                    return torch.randn(batch, self.latent_dim, device=device, generator=rng)

                def d_objective(d_copy: nn.Module) -> Tensor:  # D_worst maximises M
                    with torch.no_grad():
                        fake = g(latents())
                    return -game_value(self.formulation, d_copy, mixture.sample(batch, rng), fake)

                fixed_real = mixture.sample(batch, rng)  # a constant in G's objective

                def g_objective(g_copy: nn.Module) -> Tensor:  # G_worst minimises M
                    return game_value(self.formulation, d, fixed_real, g_copy(latents()))

                d_worst = self._optimise(d, d_objective, std, rng)
                g_worst = self._optimise(g, g_objective, std, rng)
                with torch.no_grad():
                    m_d_worst = float(game_value(self.formulation, d_worst, real, g(z)))
                    m_g_worst = float(game_value(self.formulation, d, real, g_worst(z)))
            finally:
                for p, flag in zip((*g.parameters(), *d.parameters()), frozen, strict=True):
                    p.requires_grad_(flag)
        return m_d_worst - m_g_worst, m_d_worst, m_g_worst

    def __call__(self, state: EvalState) -> dict[str, float]:
        gap, m_d_worst, m_g_worst = self.gap(state, 0.0)
        stats = {
            "monitor/duality_gap": gap,
            "monitor/duality_gap_m_dworst": m_d_worst,
            "monitor/duality_gap_m_gworst": m_g_worst,
        }
        if self.cfg.perturb_std > 0:
            stats["monitor/duality_gap_perturbed"] = self.gap(state, self.cfg.perturb_std)[0]
        return stats


@register_monitor("duality_gap", settings=DualityGapConfig)
def build(ctx: MonitorContext) -> DualityGapMonitor | None:
    """The duality gap, each worst case found by a few hundred optimiser steps."""
    cfg = ctx.cfg.monitor.duality_gap
    if cfg.every_n_epochs <= 0:
        return None
    return DualityGapMonitor(cfg, ctx.formulation, ctx.data, ctx.cfg.model.latent_dim, ctx.cfg.seed)
