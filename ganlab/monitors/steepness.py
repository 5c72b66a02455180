"""Generator steepness: s(z) = sigma_max(dG/dz (z)), the largest singular value of the
d_x by d_z Jacobian at each evaluation latent (seed 000: how sharply G must jump between
modes; mode mixture shows as steepness rising between modes).

Two ways to compute it, batched over latents:

- exact: the full Jacobian by `vmap(jacrev(G))`, then its spectral norm. Cheap when
  d_x * d_z is small (2-D data), slow for images.
- power: K products with J^T J (one jvp and one vjp each), the same work as K steps of
  power iteration. Instead of reading the estimate off the last iterate, it is the
  Rayleigh-Ritz value over the span of all iterates (Lanczos with full
  reorthogonalisation). Plain power iteration can be off by up to ~1/(2e(2K+1)) (0.45%
  at K = 20) when the top two singular values are close; the Ritz value agrees with the
  exact one to ~1e-6 for the same K on the nets tested (tests/test_gradient_monitors.py).

Both need samples to be processed independently, i.e. G in eval mode (batch norm frozen).

Conditioning (`monitor.steepness.conditioning`): the smallest singular value of the same
Jacobian (of its min(d_x, d_z) singular values) and the condition number sigma_max /
sigma_min, as in Odena et al. 2018 ("Is generator conditioning causally related to GAN
performance?"): an ill-conditioned G squeezes some latent directions to nothing, which
goes with dropped modes. Needs every singular value, so it comes from the full Jacobian:
at every latent when the exact method is used, else at the first `conditioning_latents`
(forward mode there: d_z products each).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import jacfwd, jacrev, jvp, vjp, vmap

from ganlab.config import SteepnessMonitorConfig
from ganlab.core.seeding import generator
from ganlab.monitors.base import EvalState, distribution_stats, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor


def _flat(g: nn.Module) -> Callable[[Tensor], Tensor]:
    return lambda z: g(z).reshape(z.shape[0], -1)


def jacobians(g: nn.Module, z: Tensor) -> Tensor:
    """The full per-sample Jacobians dG/dz, (B, d_x, d_z): reverse mode (d_x passes) when
    the output is the smaller side, forward mode (d_z passes) when the latent is."""
    d_z = z.shape[1]
    with torch.no_grad():
        d_x = g(z[:1]).numel()
    mode = jacrev if d_x <= d_z else jacfwd
    return vmap(mode(lambda zi: g(zi.unsqueeze(0)).reshape(-1)))(z)


def steepness_exact(g: nn.Module, z: Tensor) -> Tensor:
    """Spectral norm of each per-sample Jacobian, from the full Jacobian."""
    return torch.linalg.matrix_norm(jacobians(g, z), ord=2)


def steepness_power(
    g: nn.Module, z: Tensor, iterations: int = 20, rng: torch.Generator | None = None
) -> Tensor:
    """Spectral norm of each per-sample Jacobian from `iterations` J^T J products."""
    f = _flat(g)
    q = torch.randn(z.shape, device=z.device, dtype=z.dtype, generator=rng)
    q = q / q.norm(dim=1, keepdim=True)
    _, vjp_fn = vjp(f, z)  # type: ignore[misc]
    basis: list[Tensor] = []
    images: list[Tensor] = []  # J q for each basis vector q
    for _ in range(min(iterations, z.shape[1])):  # the Krylov space cannot exceed d_z
        _, jq = jvp(f, (z,), (q,))  # type: ignore[misc]
        basis.append(q)
        images.append(jq)
        (w,) = vjp_fn(jq)  # J^T J q
        scale = w.norm(dim=1, keepdim=True)
        for _ in range(2):  # Gram-Schmidt twice keeps the basis orthogonal in float32
            for b in basis:
                w = w - (w * b).sum(dim=1, keepdim=True) * b
        norm = w.norm(dim=1, keepdim=True)
        # an exhausted direction (Krylov space complete) contributes a zero vector
        q = torch.where(norm > 1e-5 * scale, w / norm.clamp_min(1e-30), torch.zeros_like(w))
    jq_all = torch.stack(images, dim=1)  # (B, m, d_x)
    ritz = jq_all @ jq_all.transpose(1, 2)  # Q^T J^T J Q, (B, m, m)
    return torch.linalg.eigvalsh(ritz)[..., -1].clamp_min(0).sqrt()


def singular_values_exact(g: nn.Module, z: Tensor) -> Tensor:
    """All min(d_x, d_z) singular values of each per-sample Jacobian, descending."""
    return torch.linalg.svdvals(jacobians(g, z))


def conditioning_stats(singular: Tensor) -> dict[str, float]:
    """sigma_min and sigma_max / sigma_min per latent, summarised (mean, p90, max)."""
    smallest = singular[:, -1]
    condition = singular[:, 0] / smallest.clamp_min(1e-30)
    names = ("mean", "p90", "max")
    return distribution_stats("monitor/g_sigma_min", smallest, names) | distribution_stats(
        "monitor/g_condition", condition, names
    )


def use_exact(method: str, data_dim: int, latent_dim: int, exact_max_size: int) -> bool:
    if method == "auto":
        return data_dim * latent_dim <= exact_max_size
    return method == "exact"


class SteepnessMonitor:
    """Distribution of steepness over the run's fixed evaluation latents Z_eval."""

    name = "steepness"
    makes_figures = False
    measures_samples = False

    def __init__(self, cfg: SteepnessMonitorConfig, z_eval: Tensor, data_dim: int, seed: int):
        self.cfg = cfg
        self.every_n_epochs = cfg.every_n_epochs
        self.z_eval = z_eval
        self.exact = use_exact(cfg.method, data_dim, z_eval.shape[1], cfg.exact_max_size)
        self.seed = seed

    def values(self, g: nn.Module, device: torch.device) -> Tensor:
        rng = generator(self.seed, "monitor/steepness", device)  # same start every epoch
        chunks = []
        # torch.func transforms ignore an outer no_grad; it only stops autograd from
        # recording a graph through G's parameters, which nothing here needs
        with evaluating(g), torch.no_grad():
            for z in self.z_eval.to(device).split(self.cfg.chunk_size):
                if self.exact:
                    chunks.append(steepness_exact(g, z).detach())
                else:
                    chunks.append(steepness_power(g, z, self.cfg.power_iterations, rng).detach())
        return torch.cat(chunks)

    def singular_values(self, g: nn.Module, device: torch.device) -> Tensor:
        """Every singular value at the latents the conditioning statistics use."""
        z_all = self.z_eval if self.exact else self.z_eval[: self.cfg.conditioning_latents]
        with evaluating(g), torch.no_grad():
            return torch.cat(
                [
                    singular_values_exact(g, z).detach()
                    for z in z_all.to(device).split(self.cfg.chunk_size)
                ]
            )

    def __call__(self, state: EvalState) -> dict[str, float]:
        singular: Tensor | None
        if self.exact and self.cfg.conditioning:  # one SVD gives steepness too
            singular = self.singular_values(state.generator, state.device)
            values = singular[:, 0]
        else:
            values = self.values(state.generator, state.device)
            singular = (
                self.singular_values(state.generator, state.device)
                if self.cfg.conditioning
                else None
            )
        stats = distribution_stats(
            "monitor/steepness", values, ("mean", "median", "p90", "p99", "max")
        )
        if singular is not None:
            stats |= conditioning_stats(singular)
        return stats


@register_monitor("steepness", settings=SteepnessMonitorConfig)
def build(ctx: MonitorContext) -> SteepnessMonitor | None:
    """Generator steepness: spectral norm of dG/dz over Z_eval."""
    cfg = ctx.cfg.monitor.steepness
    if cfg.every_n_epochs <= 0:
        return None
    return SteepnessMonitor(cfg, ctx.z_eval, ctx.data.dim, ctx.cfg.seed)
