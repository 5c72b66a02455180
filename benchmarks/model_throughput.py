"""Training throughput of the image models: ResNet (SNGAN-style) against DCGAN, same process.

Both train with ganlab's trainer (NS loss, Adam 2e-4, batch 64, monitors off) on
MNIST-shaped images written in MNIST's IDX format (no download), at the widths of their
presets (`model=dcgan`: 64 next to the image, doubling; `model=resnet`: 64 throughout,
spectral norm in D) or `--width`. The machine's speed drifts within a minute, so the two
alternate one round at a time; the printed ratio is ResNet steps/s over DCGAN steps/s, the
geometric mean of the per-round ratios with a 95% confidence interval; parameter counts
are printed beside it.

    python benchmarks/model_throughput.py [--rounds 8] [--steps 50] [--image-size 28|32]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganlab.config import validate
from ganlab.config.compose import compose_config
from ganlab.core.seeding import generator
from ganlab.training.build import build_parts
from ganlab.training.steps import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.image_fixtures import write_cifar10, write_mnist  # noqa: E402

MODELS = ("dcgan", "resnet")


def trainer_for(model: str, out: Path, steps: int, size: int, width: int | None) -> Trainer:
    dataset = ["dataset=mnist"] if size == 28 else ["dataset=cifar10"]
    widths = [f"model.g.width={width}", f"model.d.width={width}"] if width else []
    cfg = validate(
        compose_config(
            [
                f"model={model}",
                *dataset,
                "dataset.download=false",
                *widths,
                "monitor=none",
                "early_stop=none",
                "trainer.batch_size=64",
                f"trainer.steps_per_epoch={steps}",
                "optim.g.lr=2e-4",
                "optim.d.lr=2e-4",
                f"paths.root={out}",
                f"paths.data_root={out / 'data'}",
                f"paths.output_dir={out / model}",
            ]
        )
    )
    parts = build_parts(cfg, torch.device("cpu"))
    return Trainer(parts, cfg.trainer, cfg.loss, generator(cfg.seed, "train"), optim=cfg.optim)


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50, help="training steps per round")
    parser.add_argument("--image-size", type=int, choices=(28, 32), default=28)
    parser.add_argument("--width", type=int, default=None, help="both models' width")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.image_size == 28:
            write_mnist(out / "data", n_train=2000, n_test=200)
        else:
            write_cifar10(out / "data", per_batch=400)
        trainers = {m: trainer_for(m, out, args.steps, args.image_size, args.width) for m in MODELS}
        for trainer in trainers.values():  # warm-up: allocator, kernels, lazy imports
            trainer.train_epoch()
        times: dict[str, list[float]] = {m: [] for m in MODELS}
        for round_index in range(args.rounds):
            for model, trainer in trainers.items():
                started = time.perf_counter()
                trainer.train_epoch()
                times[model].append(time.perf_counter() - started)
            rates = "   ".join(f"{m} {args.steps / times[m][-1]:6.1f} steps/s" for m in MODELS)
            print(f"round {round_index + 1:2d}: {rates}")
    log_ratios = [math.log(d / r) for d, r in zip(times["dcgan"], times["resnet"], strict=True)]
    mean = statistics.fmean(log_ratios)
    half = 1.96 * statistics.stdev(log_ratios) / math.sqrt(len(log_ratios))
    print(
        f"\n{args.rounds} alternating rounds of {args.steps} steps, {args.image_size}x"
        f"{args.image_size} images, batch 64, {torch.get_num_threads()} threads:"
    )
    for model, trainer in trainers.items():
        g, d = trainer.parts.generator, trainer.parts.discriminator
        print(
            f"  {model:6s} median {args.steps / statistics.median(times[model]):6.1f} steps/s"
            f"   G {parameters(g):,} parameters, D {parameters(d):,}"
        )
    print(
        f"  ratio resnet/dcgan {math.exp(mean):.3f} "
        f"(95% CI {math.exp(mean - half):.3f}-{math.exp(mean + half):.3f}; geometric mean "
        "of per-round ratios)"
    )


if __name__ == "__main__":
    main()
