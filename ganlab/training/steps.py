"""The training loop: n_critic discriminator steps per generator step, epoch by epoch.

The loop is kept as lean as a hand-written PyTorch loop (benchmarks/throughput.py holds
it to that): per-step statistics stay on the device and are read once per epoch, and all
randomness comes from one generator whose state is checkpointed, so a resumed run
replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.config import LossConfig, OptimConfig, SignalsConfig, TrainerConfig
from ganlab.core.errors import CheckpointError, TrainingFailed
from ganlab.data import Data
from ganlab.losses import (
    Formulation,
    clip_weights,
    gradient_norm_penalty,
    gradient_penalty,
    instance_noise_sigma,
)
from ganlab.training.signals import (
    ActivationProbe,
    flat_parameters,
    grad_norm_metrics,
    grad_norms_per_tensor,
    step_means,
    step_signal_metrics,
)

PROGRESS_EVERY = 10  # steps between progress callbacks
# Per-step statistics, averaged over the epoch (d_real/d_fake: D's mean raw output).
STEP_STATS = ("loss_d", "gp", "r1", "r2", "d_real", "d_fake", "loss_g")


@dataclass
class GanParts:
    """Everything the loop trains; built by ganlab.launch.app from the config."""

    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    formulation: Formulation
    data: Data
    latent_dim: int
    device: torch.device


def ema_generator(generator: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """torch's AveragedModel as an exponential moving average of G's weights (buffers,
    e.g. batch-norm statistics, averaged too): ema = decay * ema + (1 - decay) * G."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


class Trainer:
    """Runs epochs and owns the state a checkpoint must hold."""

    def __init__(
        self,
        parts: GanParts,
        cfg: TrainerConfig,
        loss_cfg: LossConfig,
        rng: torch.Generator,
        track_grad_norms: bool = False,
        signals: SignalsConfig | None = None,
        optim: OptimConfig | None = None,
    ) -> None:
        self.parts = parts
        self.cfg = cfg
        self.loss_cfg = loss_cfg
        self.rng = rng
        # parameter-gradient norms of D and G, read from .grad after each backward
        self.track_grad_norms = track_grad_norms
        # learning-rate schedules; None = constant rates
        self.optim = optim
        # step-level signal magnitudes (ganlab.training.signals); None = off
        self.signals = signals
        self.probe = (
            ActivationProbe({"g": parts.generator, "d": parts.discriminator})
            if signals is not None and signals.every_n_steps > 0
            else None
        )
        self._params_d = list(parts.discriminator.parameters())
        self._params_g = list(parts.generator.parameters())
        # per step, each gradient's norm (track_grad_norms); the totals are formed per epoch
        self._grad_norms: dict[str, list[list[Tensor]]] = {"d": [], "g": []}
        # the EMA copy of G (trainer.ema_decay), updated after every G step
        self.ema = ema_generator(parts.generator, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.epoch = 0  # completed epochs
        # learning rates x this (early_stop.action=rewind lowers it at each rewind)
        self.lr_factor = 1.0

    # -- one epoch -------------------------------------------------------------------
    def train_epoch(self, on_steps: Callable[[int], None] | None = None) -> dict[str, float]:
        """Train one epoch; return its mean losses. Raise TrainingFailed on NaN/inf."""
        parts, cfg = self.parts, self.cfg
        epoch = self.epoch + 1
        sigma = instance_noise_sigma(self.loss_cfg.instance_noise, epoch)
        if self.optim is not None:  # a pure function of the epoch: resumes exactly
            for optimizer, net_cfg in ((parts.opt_g, self.optim.g), (parts.opt_d, self.optim.d)):
                for group in optimizer.param_groups:
                    group["lr"] = net_cfg.lr_at(epoch) * self.lr_factor
        parts.generator.train()
        parts.discriminator.train()
        # Detached per-step values are collected and reduced once per epoch: no extra
        # tensor op or device sync per step.
        collected: dict[str, list[Tensor]] = defaultdict(list)
        for per_step in self._grad_norms.values():
            per_step.clear()  # an epoch cut short (an interrupt) left its steps here
        update_norms = self.signals is not None and self.signals.update_norms
        start = (
            {"g": flat_parameters(parts.generator), "d": flat_parameters(parts.discriminator)}
            if update_norms
            else {}
        )
        for step in range(1, cfg.steps_per_epoch + 1):
            if self.probe is not None:
                self.probe.active = step % self.signals.every_n_steps == 0  # type: ignore[union-attr]
            # D steps counted over the whole run: lazy regularisation resumes exactly
            first_d_step = ((epoch - 1) * cfg.steps_per_epoch + step - 1) * cfg.n_critic
            if cfg.updates == "simultaneous":
                for key, value in self._simultaneous_step(sigma, first_d_step).items():
                    collected[key].append(value)
            else:
                for critic in range(cfg.n_critic):
                    for key, value in self._d_step(sigma, first_d_step + critic).items():
                        collected[key].append(value)
                for key, value in self._g_step(sigma).items():
                    collected[key].append(value)
            if self.ema is not None:
                self.ema.update_parameters(parts.generator)
            if on_steps is not None and step % PROGRESS_EVERY == 0:
                on_steps(PROGRESS_EVERY)
        if on_steps is not None and cfg.steps_per_epoch % PROGRESS_EVERY:
            on_steps(cfg.steps_per_epoch % PROGRESS_EVERY)
        if self.probe is not None:
            self.probe.active = False

        means = step_means(collected)
        for key in ("loss_d", "loss_g"):
            if not math.isfinite(means[key]):
                raise TrainingFailed(f"non-finite train/{key} ({means[key]}) in epoch {epoch}")
            if cfg.max_abs_loss > 0 and abs(means[key]) > cfg.max_abs_loss:
                raise TrainingFailed(
                    f"train/{key} = {means[key]:.3g} in epoch {epoch}, beyond "
                    f"trainer.max_abs_loss={cfg.max_abs_loss:g}: training diverged"
                )
        self.epoch = epoch
        metrics = {f"train/{k}": means[k] for k in STEP_STATS if k in means}
        metrics |= grad_norm_metrics(self._grad_norms)
        for per_step in self._grad_norms.values():
            per_step.clear()
        if self.loss_cfg.instance_noise.sigma0 > 0.0:
            metrics["train/instance_noise_sigma"] = sigma
        if self.signals is not None:
            networks = {"g": parts.generator, "d": parts.discriminator}
            metrics |= step_signal_metrics(collected, self.probe, start, networks)
        return metrics

    def _noisy(self, x: Tensor, sigma: float) -> Tensor:
        if sigma == 0.0:
            return x
        return x + sigma * torch.randn(x.shape, device=x.device, generator=self.rng)

    def _latents(self) -> Tensor:
        p = self.parts
        return torch.randn(self.cfg.batch_size, p.latent_dim, device=p.device, generator=self.rng)

    def _penalties(
        self, real: Tensor, fake: Tensor, d_step: int
    ) -> tuple[Tensor | float, dict[str, Tensor]]:
        """The D-loss terms of the stabilisers on this D step (`d_step` counts from 0 over
        the whole run, so lazy intervals resume exactly) and their logged values."""
        p, loss_cfg = self.parts, self.loss_cfg
        extra: Tensor | float = 0.0
        stats: dict[str, Tensor] = {}
        if loss_cfg.gp_weight > 0.0:
            penalty = gradient_penalty(p.discriminator, real, fake, self.rng)
            stats["gp"] = penalty.detach()
            extra = extra + loss_cfg.gp_weight * penalty
        lazy = loss_cfg.reg_interval
        if d_step % lazy == 0:
            for name, weight, x in (
                ("r1", loss_cfg.r1_weight, real),
                ("r2", loss_cfg.r2_weight, fake),
            ):
                if weight > 0.0:
                    penalty = gradient_norm_penalty(p.discriminator, x)
                    stats[name] = penalty.detach()
                    extra = extra + (weight / 2) * lazy * penalty
        return extra, stats

    def _d_step(self, sigma: float, d_step: int = 0) -> dict[str, Tensor]:
        p, loss_cfg = self.parts, self.loss_cfg
        real = p.data.sample(self.cfg.batch_size, self.rng)
        with torch.no_grad():
            fake = p.generator(self._latents())
        real, fake = self._noisy(real, sigma), self._noisy(fake, sigma)
        l_real, l_fake = p.discriminator(real), p.discriminator(fake)
        loss = p.formulation.d_loss(l_real, l_fake)
        stats = {
            "loss_d": loss.detach(),
            "d_real": l_real.detach(),
            "d_fake": l_fake.detach(),
        }
        extra, penalty_stats = self._penalties(real, fake, d_step)
        stats |= penalty_stats
        loss = loss + extra
        p.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if self.track_grad_norms:
            self._grad_norms["d"].append(grad_norms_per_tensor(self._params_d))
        p.opt_d.step()
        if loss_cfg.clip is not None:
            clip_weights(p.discriminator, loss_cfg.clip)
        return stats

    def _simultaneous_step(self, sigma: float, d_step: int) -> dict[str, Tensor]:
        """One D and one G update from the same forward pass at the same parameters: each
        network's gradient is taken before either moves (MM-nsat's reference code)."""
        p, loss_cfg = self.parts, self.loss_cfg
        real = self._noisy(p.data.sample(self.cfg.batch_size, self.rng), sigma)
        fake = self._noisy(p.generator(self._latents()), sigma)
        l_real, l_fake = p.discriminator(real), p.discriminator(fake)
        loss_d = p.formulation.d_loss(l_real, l_fake)
        loss_g = p.formulation.g_loss(l_fake)
        extra, stats = self._penalties(real, fake.detach(), d_step)
        grads_g = torch.autograd.grad(loss_g, self._params_g, retain_graph=True)
        grads_d = torch.autograd.grad(loss_d + extra, self._params_d)
        for params, grads in ((self._params_g, grads_g), (self._params_d, grads_d)):
            for param, grad in zip(params, grads, strict=True):
                param.grad = grad
        stats |= {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": l_real.detach(),
            "d_fake": l_fake.detach(),
        }
        if self.track_grad_norms:
            self._grad_norms["d"].append(grad_norms_per_tensor(self._params_d))
            self._grad_norms["g"].append(grad_norms_per_tensor(self._params_g))
        p.opt_d.step()
        p.opt_g.step()
        if loss_cfg.clip is not None:
            clip_weights(p.discriminator, loss_cfg.clip)
        return stats

    def _g_step(self, sigma: float) -> dict[str, Tensor]:
        p = self.parts
        fake = self._noisy(p.generator(self._latents()), sigma)
        loss = p.formulation.g_loss(p.discriminator(fake))
        p.opt_g.zero_grad(set_to_none=True)
        # G's gradients only: D's weight gradients of this pass were never used (D's step
        # starts from zero) and cost ~6% of a ring8 epoch; G's are bit-identical
        # (tests/test_generator_step.py). A frozen parameter cannot be asked for.
        loss.backward(inputs=[q for q in self._params_g if q.requires_grad])
        stats = {"loss_g": loss.detach()}
        if self.track_grad_norms:
            self._grad_norms["g"].append(grad_norms_per_tensor(self._params_g))
        p.opt_g.step()
        return stats

    # -- checkpoint state ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        p = self.parts
        return {
            "epoch": self.epoch,
            "generator": p.generator.state_dict(),
            "discriminator": p.discriminator.state_dict(),
            "opt_g": p.opt_g.state_dict(),
            "opt_d": p.opt_d.state_dict(),
            "rng": self.rng.get_state(),
        } | ({"ema": self.ema.state_dict()} if self.ema is not None else {})

    def restore(self, state: dict[str, Any]) -> None:
        """Go back to an earlier state (a rewind): both networks, both optimisers and the
        EMA generator; the epoch count and the random stream go on."""
        p = self.parts
        p.generator.load_state_dict(state["generator"])
        p.discriminator.load_state_dict(state["discriminator"])
        p.opt_g.load_state_dict(state["opt_g"])
        p.opt_d.load_state_dict(state["opt_d"])
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])

    def load_state_dict(self, state: dict[str, Any]) -> None:
        p = self.parts
        try:
            p.generator.load_state_dict(state["generator"])
            p.discriminator.load_state_dict(state["discriminator"])
            p.opt_g.load_state_dict(state["opt_g"])
            p.opt_d.load_state_dict(state["opt_d"])
            self.rng.set_state(state["rng"])
            if self.ema is not None:
                if "ema" not in state:
                    raise CheckpointError(
                        "the checkpoint has no EMA generator (it was written with "
                        "trainer.ema_decay=0); resume with trainer.ema_decay=0."
                    )
                self.ema.load_state_dict(state["ema"])
            self.epoch = int(state["epoch"])
        except (KeyError, RuntimeError, ValueError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise CheckpointError(
                f"checkpoint does not fit this model/optimiser ({first_line}); "
                "resume with the config it was written with."
            ) from exc
