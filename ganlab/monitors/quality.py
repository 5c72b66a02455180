"""Sample quality on a Gaussian mixture (docs/method.md section 4).

A generated sample is *high quality* when it lies within `hq_std` standard deviations of
its nearest centre; a mode is *covered* when at least `min_count` high-quality samples
fall in it. `mode_js` is the Jensen-Shannon distance (base 2, so in [0, 1]) between the
histogram of high-quality samples over modes and the true mode weights. The per-mode
counts are logged too, so coverage can be recomputed for any `min_count` later.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.config import QualityMonitorConfig
from ganlab.core.seeding import generator
from ganlab.data import GaussianMixture
from ganlab.monitors.base import EvalState, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.monitors.frechet import frechet_distance_samples
from ganlab.registry import register_monitor


def js_distance(p: Tensor, q: Tensor) -> float:
    """Jensen-Shannon distance, base 2, between two histograms (normalised here)."""
    p = p.double() / p.sum()
    q = q.double() / q.sum()
    m = (p + q) / 2

    def kl(a: Tensor) -> Tensor:
        mask = a > 0
        return (a[mask] * (a[mask] / m[mask]).log2()).sum()

    return float(((kl(p) + kl(q)) / 2).clamp(min=0).sqrt())


def mode_statistics(
    samples: Tensor, mixture: GaussianMixture, hq_std: float, min_count: int
) -> dict[str, float]:
    """hq_fraction, modes_covered, their product score = hq_fraction x modes_covered /
    n_modes (the quality every verdict and benchmark label is read from), mode_js and
    each mode's high-quality count."""
    samples = samples.detach().float().cpu()
    centers, weights = mixture.centers.cpu(), mixture.weights.cpu()
    dist, nearest = torch.cdist(samples, centers).min(dim=1)
    high_quality = dist <= hq_std * mixture.std
    counts = torch.bincount(nearest[high_quality], minlength=mixture.n_modes)
    stats = {
        "quality/hq_fraction": float(high_quality.float().mean()),
        "quality/modes_covered": float((counts >= min_count).sum()),
        "quality/score": float(high_quality.float().mean())
        * float((counts >= min_count).sum())
        / mixture.n_modes,
        # no high-quality sample at all is as far from the target as it gets
        "quality/mode_js": js_distance(counts, weights) if counts.sum() > 0 else 1.0,
    }
    width = len(str(mixture.n_modes - 1))
    for mode, count in enumerate(counts.tolist()):
        stats[f"quality/mode_hq_count/{mode:0{width}d}"] = float(count)
    return stats


PAPER_HQ_DISTANCE = 3.0  # MM-nsat's toy.py: mean |x - mu| / sigma over coordinates < 3


def paper_mode_statistics(
    samples: Tensor, mixture: GaussianMixture, min_count: int
) -> dict[str, float]:
    """MM-nsat's reference toy measures (awweide/mm-nsat, src/toy.py): the modal distance
    of x to mode m is mean_i |x_i - mu_mi| / sigma (an L1 distance in standard deviations,
    averaged over coordinates); a sample belongs to its nearest mode by that distance and
    is high quality when it is below 3. The paper prints each mode's share of samples;
    `paper_mode_jsd` sets that histogram (high-quality samples only) against the true
    weights as a Jensen-Shannon divergence, base 2, in [0, 1] (the square of
    `mode_js`'s distance form), as the paper does for class distributions on images."""
    samples = samples.detach().double().cpu()
    centers, weights = mixture.centers.double().cpu(), mixture.weights.double().cpu()
    distance = (samples[:, None, :] - centers[None]).abs().mean(dim=2) / mixture.std
    modal, nearest = distance.min(dim=1)
    high_quality = modal < PAPER_HQ_DISTANCE
    counts = torch.bincount(nearest[high_quality], minlength=mixture.n_modes)
    return {
        "quality/paper_hq_fraction": float(high_quality.float().mean()),
        "quality/paper_modes_covered": float((counts >= min_count).sum()),
        "quality/paper_mode_jsd": js_distance(counts, weights) ** 2 if counts.sum() > 0 else 1.0,
    }


class MixtureQualityMonitor:
    """Quality of samples from a fixed latent set, against a fixed real set."""

    name = "quality"
    measures_samples = True  # EMA generator: run again on it (keys under ema/)
    makes_figures = False

    def __init__(
        self, cfg: QualityMonitorConfig, mixture: GaussianMixture, latent_dim: int, seed: int
    ) -> None:
        self.cfg = cfg
        self.every_n_epochs = cfg.every_n_epochs
        self.mixture = mixture
        rng = generator(seed, "monitor/quality")
        self.latents = torch.randn(cfg.n_samples, latent_dim, generator=rng)
        self.real = mixture.to("cpu").sample(cfg.n_samples, rng)

    def __call__(self, state: EvalState) -> dict[str, float]:
        with evaluating(state.generator), torch.no_grad():
            fake = state.generator(self.latents.to(state.device)).cpu()
        stats = mode_statistics(fake, self.mixture, self.cfg.hq_std, self.cfg.min_count)
        stats["quality/fd2d"] = frechet_distance_samples(fake, self.real)
        if self.cfg.paper_rule:
            stats |= paper_mode_statistics(fake, self.mixture, self.cfg.min_count)
        return stats


@register_monitor("quality", settings=QualityMonitorConfig)
def build(ctx: MonitorContext) -> MixtureQualityMonitor | None:
    """Mixtures: high-quality fraction, modes covered, mode JS, Frechet distance."""
    cfg = ctx.cfg.monitor.quality
    if not ctx.is_mixture or cfg.every_n_epochs <= 0:
        return None
    return MixtureQualityMonitor(cfg, ctx.mixture, ctx.cfg.model.latent_dim, ctx.cfg.seed)
