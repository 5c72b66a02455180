"""ResNet generator and discriminator for 28x28 and 32x32 images, after SNGAN's CIFAR-10
networks (Miyato et al. 2018, appendix; the BigGAN peers are their class-conditional,
wider descendants).

G: the latent is projected to `width` channels at the coarsest size (4x4 for 32x32, 7x7
for 28x28), then residual up-sampling blocks (three for 32x32, two for 28x28), each
BN -> activation -> upsample -> conv3x3 -> BN -> activation -> conv3x3 with a 1x1-conv
shortcut from the upsampled input; a last BN -> activation -> conv3x3 -> tanh makes the
image. D: an "optimised" first block straight from the image, down-sampling blocks to the
coarsest size, then `d.depth` residual blocks at that size (SNGAN: 2), activation, a sum
over positions and a linear score. Unlike DCGAN's, the width stays constant across
levels, as in SNGAN. Spectral norm on every D layer (`model.d.spectral_norm`, on in
`model=resnet`) is SNGAN's; D has no batch norm (per-sample gradient monitors and
penalties need samples kept independent).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganlab.config import ModelConfig, NetConfig
from ganlab.core.errors import ConfigError
from ganlab.models.layers import activation
from ganlab.registry import register_model

Wrap = Callable[[nn.Module], nn.Module]


def _levels(resolution: int) -> tuple[int, int]:
    """(coarsest size, number of x2 resampling steps) for a supported resolution."""
    return (7, 2) if resolution == 28 else (4, 3)


def _init(module: nn.Module) -> None:
    """Xavier-uniform weights, zero biases (SNGAN's initialisation)."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        original = getattr(getattr(module, "parametrizations", None), "weight", None)
        nn.init.xavier_uniform_(original.original if original is not None else module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class UpBlock(nn.Module):
    """G's residual block: doubles the size, keeps the width."""

    def __init__(self, width: int, cfg: NetConfig) -> None:
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(width)) if cfg.batch_norm else nn.Identity
        self.residual = nn.Sequential(
            norm(),
            activation(cfg.activation),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(width, width, 3, padding=1),
            norm(),
            activation(cfg.activation),
            nn.Conv2d(width, width, 3, padding=1),
        )
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


class DownBlock(nn.Module):
    """D's residual block: halves the size (`down`) or keeps it; `first` reads the image
    (SNGAN's optimised block: no activation before its first conv)."""

    def __init__(
        self, width_in: int, width: int, cfg: NetConfig, wrap: Wrap, down: bool, first: bool
    ) -> None:
        super().__init__()
        pool: list[nn.Module] = [nn.AvgPool2d(2)] if down else []
        before: list[nn.Module] = [] if first else [activation(cfg.activation)]
        self.residual = nn.Sequential(
            *before,
            wrap(nn.Conv2d(width_in, width, 3, padding=1)),
            activation(cfg.activation),
            wrap(nn.Conv2d(width, width, 3, padding=1)),
            *pool,
        )
        if first:  # pool, then a 1x1 conv
            self.shortcut: nn.Module = nn.Sequential(*pool, wrap(nn.Conv2d(width_in, width, 1)))
        elif down or width_in != width:  # a 1x1 conv, then pool
            self.shortcut = nn.Sequential(wrap(nn.Conv2d(width_in, width, 1)), *pool)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


class Generator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], cfg: NetConfig) -> None:
        super().__init__()
        channels, resolution, _ = shape
        self.start, steps = _levels(resolution)
        self.width = cfg.width
        self.project = nn.Linear(latent_dim, cfg.width * self.start * self.start)
        norm: list[nn.Module] = [nn.BatchNorm2d(cfg.width)] if cfg.batch_norm else []
        self.body = nn.Sequential(
            *[UpBlock(cfg.width, cfg) for _ in range(steps)],
            *norm,
            activation(cfg.activation),
            nn.Conv2d(cfg.width, channels, 3, padding=1),
            nn.Tanh(),
        )
        self.apply(_init)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.project(z).view(-1, self.width, self.start, self.start))


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], cfg: NetConfig) -> None:
        super().__init__()
        channels = shape[0]
        _, steps = _levels(shape[1])
        wrap: Wrap = spectral_norm if cfg.spectral_norm else (lambda layer: layer)
        blocks = [DownBlock(channels, cfg.width, cfg, wrap, down=True, first=True)]
        blocks += [
            DownBlock(cfg.width, cfg.width, cfg, wrap, down=True, first=False)
            for _ in range(steps - 1)
        ]
        blocks += [
            DownBlock(cfg.width, cfg.width, cfg, wrap, down=False, first=False)
            for _ in range(cfg.depth)
        ]
        self.blocks = nn.Sequential(*blocks, activation(cfg.activation))
        self.score = wrap(nn.Linear(cfg.width, 1))
        self.apply(_init)

    def forward(self, x: Tensor) -> Tensor:
        features = self.blocks(x).sum(dim=(2, 3))  # SNGAN: a sum over positions
        return self.score(features)


@register_model("resnet", kinds=("image",))
def build_resnet(cfg: ModelConfig, data) -> tuple[nn.Module, nn.Module]:  # noqa: ANN001
    """SNGAN-style ResNet G and D for 28x28 and 32x32 images (spectral norm in D)."""
    shape = data.shape
    if shape[1] not in (28, 32) or shape[1] != shape[2]:
        raise ConfigError(f"model=resnet supports 28x28 and 32x32 images, got {shape[1:]}.")
    return Generator(cfg.latent_dim, shape, cfg.g), Discriminator(shape, cfg.d)
