"""DCGAN-style convolutional generator and discriminator for 28x28 and 32x32 images.

28x28 (MNIST, Fashion-MNIST): 7 -> 14 -> 28; 32x32 (CIFAR-10): 4 -> 8 -> 16 -> 32. `width` is
the channel count next to the image and doubles at each coarser level. Switches per
network (config `model.g.*` / `model.d.*`): batch norm, pixelwise normalisation (G),
minibatch standard deviation (D), spectral norm. D has no batch norm by default because
the gradient penalty and the per-sample gradient monitors need samples kept independent.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganlab.config import ModelConfig, NetConfig
from ganlab.core.errors import ConfigError
from ganlab.models.layers import MinibatchStdDev, PixelNorm, activation
from ganlab.registry import register_model


def _levels(resolution: int) -> tuple[int, int]:
    """(starting size, number of x2 up-sampling steps) for a supported resolution."""
    return (7, 2) if resolution == 28 else (4, 3)


def _init(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, batch-norm scales N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        weight: Any = (
            module.parametrizations.weight.original  # type: ignore[union-attr]  # spectral norm: the raw weight
            if parametrize.is_parametrized(module, "weight")
            else module.weight
        )
        nn.init.normal_(weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], cfg: NetConfig) -> None:
        super().__init__()
        channels, resolution, _ = shape
        start, steps = _levels(resolution)
        wrap = spectral_norm if cfg.spectral_norm else (lambda layer: layer)
        top = cfg.width * 2 ** (steps - 1)
        self.start, self.top = start, top
        self.project = wrap(nn.Linear(latent_dim, top * start * start))
        layers: list[nn.Module] = [*self._post(top, cfg)]
        width = top
        for step in range(steps):
            last = step == steps - 1
            out = channels if last else width // 2
            layers.append(wrap(nn.ConvTranspose2d(width, out, 4, 2, 1)))
            layers += [nn.Tanh()] if last else self._post(out, cfg)
            width = out
        self.body = nn.Sequential(*layers)
        self.apply(_init)

    @staticmethod
    def _post(width: int, cfg: NetConfig) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.BatchNorm2d(width)] if cfg.batch_norm else []
        layers.append(activation(cfg.activation))
        return layers + ([PixelNorm()] if cfg.pixel_norm else [])

    def forward(self, z: Tensor) -> Tensor:
        x = self.project(z).view(-1, self.top, self.start, self.start)
        return self.body(x)


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], cfg: NetConfig) -> None:
        super().__init__()
        channels, resolution, _ = shape
        start, steps = _levels(resolution)
        wrap = spectral_norm if cfg.spectral_norm else (lambda layer: layer)
        layers: list[nn.Module] = []
        width_in, width = channels, cfg.width
        for step in range(steps):
            layers.append(wrap(nn.Conv2d(width_in, width, 4, 2, 1)))
            if cfg.batch_norm and step > 0:  # never on the image itself (DCGAN)
                layers.append(nn.BatchNorm2d(width))
            layers.append(activation(cfg.activation))
            width_in, width = width, width * 2
        if cfg.minibatch_std:
            layers.append(MinibatchStdDev())
            width_in += 1
        layers += [nn.Flatten(), wrap(nn.Linear(width_in * start * start, 1))]
        self.body = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def build_dcgan_pair(cfg: ModelConfig, shape: tuple[int, int, int]) -> tuple[nn.Module, nn.Module]:
    return Generator(cfg.latent_dim, shape, cfg.g), Discriminator(shape, cfg.d)


@register_model("dcgan", kinds=("image",))
def build_dcgan(cfg: ModelConfig, data) -> tuple[nn.Module, nn.Module]:  # noqa: ANN001
    """DCGAN G and D for 28x28 and 32x32 images, with PGGAN's switches."""
    shape = data.shape
    if shape[1] not in (28, 32) or shape[1] != shape[2]:
        raise ConfigError(f"model=dcgan supports 28x28 and 32x32 images, got {shape[1:]}.")
    return build_dcgan_pair(cfg, shape)
