"""Turn a validated config into the objects a run trains: data, networks, optimisers."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ganlab.config import GanlabConfig, OptimizerConfig
from ganlab.core.errors import ConfigError
from ganlab.core.seeding import stream_seed
from ganlab.data import build_data
from ganlab.losses import build_formulation
from ganlab.models import build_models
from ganlab.training.steps import GanParts


def resolve_device(name: str) -> torch.device:
    """auto = cuda when a GPU is visible, else cpu; cuda without a GPU is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA device is visible; use device=auto or cpu.")
    return torch.device(name)


def build_optimizer(
    params: Iterable[torch.nn.Parameter], cfg: OptimizerConfig
) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(
            params, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]), weight_decay=cfg.weight_decay
        )
    return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_parts(cfg: GanlabConfig, device: torch.device) -> GanParts:
    """Networks initialised from the run's "init" random stream, so a seed fixes them."""
    torch.manual_seed(stream_seed(cfg.seed, "init"))
    data = build_data(cfg.dataset, cfg.paths.data_root).to(device)
    generator, discriminator = build_models(cfg.model, data)
    generator, discriminator = generator.to(device), discriminator.to(device)
    return GanParts(
        generator=generator,
        discriminator=discriminator,
        opt_g=build_optimizer(generator.parameters(), cfg.optim.g),
        opt_d=build_optimizer(discriminator.parameters(), cfg.optim.d),
        formulation=build_formulation(cfg.loss),
        data=data,
        latent_dim=cfg.model.latent_dim,
        device=device,
    )
