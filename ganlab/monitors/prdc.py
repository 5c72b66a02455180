"""Improved precision and recall, density and coverage: k-nearest-neighbour measures of
how generated samples sit among real ones, in a named feature space.

Definitions (real set R, generated set F, k nearest neighbours, NND_k(x) = the distance
from x to its k-th nearest neighbour in its own set, B(x, r) the closed ball):
- precision = share of F inside some B(r, NND_k(r)), r in R (Kynkaanniemi et al. 2019,
  "Improved precision and recall metric for assessing generative models"): fidelity;
- recall = share of R inside some B(f, NND_k(f)), f in F: diversity;
- density = 1/(k |F|) sum_f #{r : f in B(r, NND_k(r))} (Naeem et al. 2020, "Reliable
  fidelity and diversity metrics for generative models"): like precision but counts how
  many real neighbourhoods hold each sample, so it is robust to real outliers and can
  exceed 1;
- coverage = share of R whose ball B(r, NND_k(r)) holds at least one f: diversity measured
  from the real side only, robust to generated outliers.

Precision and recall come from torch-fidelity (`prc_features_to_metric`, the maintained
implementation). Density and coverage have no maintained library (the authors' `prdc`
package prints on every call, starts 8 jobs and holds three N x N matrices), so they are
computed here in batches; tests check all four against `prdc` and against brute force.
The real set's radii are fixed, so they are computed once per run and reused.

Feature spaces, named in every key so values from different spaces are never compared:
`data` (the 2-D mixtures, raw coordinates) and `classifier` (images: the penultimate
features of ganlab's classifier). Keys: `quality/<space>_<measure>_<n>_k<k>`, e.g.
`quality/data_precision_2500_k3`, `quality/classifier_coverage_5k_k3`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.config import PRDCMonitorConfig
from ganlab.data.images import to_float
from ganlab.monitors.base import EvalState
from ganlab.monitors.context import MonitorContext
from ganlab.monitors.fid import count_tag, generate
from ganlab.registry import MONITORS
from ganlab.seeding import generator

BATCH = 2048  # rows of a distance block: bounds memory at BATCH x N floats


def knn_radii(features: Tensor, k: int, batch: int = BATCH) -> Tensor:
    """Distance from each row to its k-th nearest other row (itself excluded)."""
    radii = [
        torch.cdist(block, features).kthvalue(k + 1, dim=1).values
        for block in features.split(batch)
    ]
    return torch.cat(radii)


def density_coverage(
    real: Tensor, fake: Tensor, k: int, real_radii: Tensor | None = None, batch: int = BATCH
) -> dict[str, float]:
    """Naeem et al.'s density and coverage of `fake` against `real` (float features)."""
    radii = knn_radii(real, k, batch) if real_radii is None else real_radii
    inside_count = torch.zeros(fake.shape[0], dtype=torch.float64)
    nearest_fake = []
    for start in range(0, real.shape[0], batch):
        block = torch.cdist(real[start : start + batch], fake)  # (b, |F|)
        inside = block <= radii[start : start + batch, None]
        inside_count += inside.sum(dim=0).double()
        nearest_fake.append(block.min(dim=1).values)
    covered = torch.cat(nearest_fake) <= radii
    return {
        "density": float(inside_count.mean() / k),
        "coverage": float(covered.double().mean()),
    }


def precision_recall(real: Tensor, fake: Tensor, k: int) -> dict[str, float]:
    """Kynkaanniemi et al.'s improved precision and recall, by torch-fidelity."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    result = prc_features_to_metric(
        fake, real, prc_neighborhood=k, prc_batch_size=BATCH, save_cpu_ram=True, verbose=False
    )
    return {"precision": float(result["precision"]), "recall": float(result["recall"])}


def prdc(real: Tensor, fake: Tensor, k: int, real_radii: Tensor | None = None) -> dict[str, float]:
    """All four measures of `fake` against `real` ((N, d) float features)."""
    real, fake = real.float(), fake.float()
    return precision_recall(real, fake, k) | density_coverage(real, fake, k, real_radii)


class PRDCMonitor:
    """The four k-NN measures between samples of fixed latents and a fixed real set."""

    name = "prdc"
    measures_samples = True  # EMA generator: run again on it (keys under ema/)

    def __init__(
        self, cfg: PRDCMonitorConfig, space: str, real: Tensor, latents: Tensor, embed
    ) -> None:
        self.cfg = cfg
        self.every_n_epochs = cfg.every_n_epochs
        self.space = space
        self.latents = latents
        self.embed = embed  # generated or real samples -> features (the identity on mixtures)
        self.real = real
        self.real_features: Tensor | None = None  # and their radii: once, lazily
        self.real_radii: Tensor | None = None
        self.prefix = f"quality/{space}_"
        self.suffix = f"_{count_tag(cfg.n_samples)}_k{cfg.k}"

    def __call__(self, state: EvalState) -> dict[str, float]:
        if self.real_features is None:
            self.real_features = self.embed(self.real).float().cpu()
            self.real_radii = knn_radii(self.real_features, self.cfg.k)
        fake = generate(state.generator, self.latents, state.device, 500)
        features = self.embed(fake).float().cpu()
        values = prdc(self.real_features, features, self.cfg.k, self.real_radii)
        return {f"{self.prefix}{name}{self.suffix}": value for name, value in values.items()}


@MONITORS.register("prdc")
def build(ctx: MonitorContext) -> PRDCMonitor | None:
    """Precision, recall, density, coverage: data space (mixtures), classifier features
    (images)."""
    cfg = ctx.cfg.monitor.prdc
    if cfg.every_n_epochs <= 0:
        return None
    rng = generator(ctx.cfg.seed, "monitor/prdc")
    latents = torch.randn(cfg.n_samples, ctx.cfg.model.latent_dim, generator=rng)
    if ctx.is_mixture:
        real = ctx.data.sample(cfg.n_samples, rng)
        return PRDCMonitor(cfg, "data", real, latents, lambda x: x)
    classifier = ctx.classifier()
    device = next(classifier.parameters()).device
    n = min(cfg.n_samples, len(ctx.data))
    chosen = torch.randperm(len(ctx.data), generator=rng)[:n]
    real = to_float(ctx.data.images[chosen])

    @torch.no_grad()
    def embed(images: Tensor) -> Tensor:
        return torch.cat(
            [classifier.features(batch.to(device)).cpu() for batch in images.split(500)]
        )

    return PRDCMonitor(cfg, "classifier", real, latents, embed)
