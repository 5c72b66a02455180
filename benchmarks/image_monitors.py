"""Image monitors' cost, in one process, on MNIST-shaped data (28x28x1, 10 classes).

1. FID with cached reference statistics vs without: the same torch-fidelity evaluation
   (ganlab's classifier as feature extractor: no download) into an empty cache, then again
   with the statistics cached. Prints both times and the ratio.
2. Steepness by power iteration (20 J^T J products, Rayleigh-Ritz) on the DCGAN generator
   at 256 evaluation latents, relative to one training epoch of the phases_mnist setting
   (937 steps of batch 64): the epoch's time is extrapolated from measured steps.

Synthetic MNIST-shaped images stand in for MNIST (cost does not depend on content).

    python benchmarks/image_monitors.py [--real 10000] [--generated 10000] [--steps 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ganlab.config import FIDMonitorConfig, LossConfig, ModelConfig, NetConfig, TrainerConfig
from ganlab.core.seeding import generator
from ganlab.data.images import ImageData
from ganlab.losses import build_formulation
from ganlab.models.classifier import load_or_train, register_with_torch_fidelity
from ganlab.models.dcgan import build_dcgan_pair
from ganlab.monitors.fid import UInt8Images, fidelity
from ganlab.monitors.steepness import steepness_power
from ganlab.training.steps import GanParts, Trainer

MNIST_STEPS_PER_EPOCH = 937


def mnist_shaped(n: int) -> ImageData:
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = torch.randint(0, 40, (n, 1, 28, 28), generator=gen, dtype=torch.uint8)
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 4)
        images[i, :, 1 + 7 * row : 8 + 7 * row, 7 * col : 7 * col + 7] = 230
    return ImageData("mnist", images, labels, 10, f"bench-{n}-28x28x1")


def fid_cache_ratio(real: ImageData, n_generated: int, cache: Path) -> None:
    device = torch.device("cpu")
    classifier = load_or_train(real, cache / "classifiers", 1, device)
    name = register_with_torch_fidelity(classifier, "ganlab-classifier-bench")
    cfg = FIDMonitorConfig(n_samples=n_generated, feature_extractor="classifier", batch_size=500)
    reference = UInt8Images(real.images.repeat(1, 3, 1, 1))
    picks = torch.randint(len(real), (n_generated,), generator=torch.Generator().manual_seed(2))
    fake = real.images[picks].repeat(1, 3, 1, 1)
    times = {}
    for label in ("uncached", "cached"):
        started = time.perf_counter()
        fidelity(fake, reference, "bench", cache / "fidelity", name, cfg, device)
        times[label] = time.perf_counter() - started
    print(f"FID, {len(real)} real / {n_generated} generated images (classifier features):")
    print(f"  without cached reference statistics {times['uncached']:7.2f} s")
    print(f"  with cached reference statistics    {times['cached']:7.2f} s")
    print(f"  ratio cached / uncached              {times['cached'] / times['uncached']:.2f}")


def steepness_vs_epoch(real: ImageData, steps: int) -> None:
    model = ModelConfig(
        name="dcgan",
        latent_dim=100,
        g=NetConfig(width=64, batch_norm=True),
        d=NetConfig(width=64, activation="leaky_relu"),
    )
    g, d = build_dcgan_pair(model, real.shape)
    parts = GanParts(
        g,
        d,
        torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999)),
        torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999)),
        build_formulation(LossConfig()),
        real,
        100,
        torch.device("cpu"),
    )
    trainer = Trainer(
        parts,
        TrainerConfig(steps_per_epoch=steps, batch_size=64),
        LossConfig(),
        generator(0, "train"),
    )
    trainer.train_epoch()  # warm-up
    started = time.perf_counter()
    trainer.train_epoch()
    per_step = (time.perf_counter() - started) / steps
    epoch = per_step * MNIST_STEPS_PER_EPOCH
    z = torch.randn(256, 100, generator=torch.Generator().manual_seed(1))
    g.eval()
    with torch.no_grad():
        steepness_power(g, z[:8], 20)  # warm-up of torch.func
        started = time.perf_counter()
        steepness_power(g, z, 20, torch.Generator().manual_seed(0))
        evaluation = time.perf_counter() - started
    print(
        f"\nsteepness (power, 20 iterations, 256 latents) on the MNIST DCGAN "
        f"({sum(p.numel() for p in g.parameters())} G parameters):"
    )
    print(f"  one evaluation                       {evaluation:7.2f} s")
    print(
        f"  one training epoch ({MNIST_STEPS_PER_EPOCH} steps of 64)   {epoch:7.1f} s "
        f"({per_step * 1000:.0f} ms/step over {steps} steps)"
    )
    print(f"  evaluation / epoch                   {evaluation / epoch:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=int, default=10000)
    parser.add_argument("--generated", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    real = mnist_shaped(args.real)
    with tempfile.TemporaryDirectory() as tmp:
        fid_cache_ratio(real, args.generated, Path(tmp))
    steepness_vs_epoch(real, args.steps)


if __name__ == "__main__":
    main()
