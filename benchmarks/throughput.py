"""Training throughput: ganlab's trainer vs a plain PyTorch loop, same model, same process.

Both train the same GAN (NS loss) for the same number of steps: `--model mlp` the MLP
2x128 on ring8 (batch 256), `--model dcgan` the DCGAN of `phases_mnist` (width 64, batch
64, Adam 2e-4) on MNIST-shaped images written in MNIST's IDX format (no download).
This machine's speed drifts by tens of percent within a minute, so the two loops alternate
one round at a time, and the ratio is the geometric mean of the per-round ratios with a
95% confidence interval (a single pair varies by +-10% here; 30 pairs pin the mean to
about +-3%).
ganlab runs its real epoch loop (`ganlab.training.loop.FitLoop`) with monitors off but with its
per-epoch MLflow logging (SQLite) and checkpointing on, i.e. what a user pays for. A
round is a whole run of `--epochs` epochs, so the costs of starting and ending a run
are included, spread over 5 epochs (a default run has 40). The printed ratio is ganlab
steps/s over plain steps/s. Target: >= 0.95.

    python benchmarks/throughput.py [--model mlp] [--rounds 30] [--epochs 5] [--steps 250]
    python benchmarks/throughput.py --model dcgan --rounds 8 --epochs 3 --steps 100
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
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ganlab.config import register, validate
from ganlab.core.paths import CONF_DIR
from ganlab.core.seeding import generator
from ganlab.training.build import build_parts
from ganlab.training.loop import FitLoop
from ganlab.training.run import Run

MODELS = {
    "mlp": [],
    # phases_mnist's model, batch and optimisers, without its monitors
    "dcgan": [
        "model=dcgan",
        "dataset=mnist",
        "dataset.download=false",
        "trainer.batch_size=64",
        "optim.g.lr=2e-4",
        "optim.d.lr=2e-4",
    ],
}


def compose_config(out: Path, epochs: int, steps: int, model: str):
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                *MODELS[model],
                "monitor=none",
                "early_stop=none",
                f"trainer.epochs={epochs}",
                f"trainer.steps_per_epoch={steps}",
                "trainer.progress=none",
                f"paths.root={out}",
                f"paths.output_dir={out}/run",
                f"paths.data_root={out}/data",
            ],
        )
    return validate(cfg)


def describe(cfg) -> str:
    if cfg.model.name == "mlp":
        return f"MLP {cfg.model.g.depth}x{cfg.model.g.width} on {cfg.dataset.name}"
    return f"DCGAN width {cfg.model.g.width} on {cfg.dataset.name}-shaped data"


def plain_loop(cfg, steps: int) -> tuple[float, torch.nn.Module]:
    """A hand-written NS-GAN loop on the same networks, data and random stream as ganlab.

    Same stream, same order of draws: both loops do bit-identical arithmetic (checked by
    comparing the final generators), so only the loop machinery differs.
    Returns (seconds, trained generator).
    """
    parts = build_parts(cfg, torch.device("cpu"))
    g, d, opt_g, opt_d = parts.generator, parts.discriminator, parts.opt_g, parts.opt_d
    rng = generator(cfg.seed, "train")
    batch, latent = cfg.trainer.batch_size, cfg.model.latent_dim
    started = time.perf_counter()
    for _ in range(steps):
        real = parts.data.sample(batch, rng)
        with torch.no_grad():
            fake = g(torch.randn(batch, latent, generator=rng))
        loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(g(torch.randn(batch, latent, generator=rng)))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return time.perf_counter() - started, g


def ganlab_loop(cfg, uri: str, out: Path) -> tuple[float, torch.nn.Module]:
    """ganlab's epoch loop of a Run, with logging and checkpointing (only the loop is
    timed, not building the run); returns (seconds, generator)."""
    run_cfg = OmegaConf.structured(cfg)
    run_cfg.tracking.uri = uri
    run_cfg.paths.output_dir = str(out / f"run-{time.monotonic_ns()}")
    run = Run.create(run_cfg)
    started = time.perf_counter()
    FitLoop(run).run()
    elapsed = time.perf_counter() - started
    run.tracker.end()
    return elapsed, run.trainer.parts.generator


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=250)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.model == "dcgan":
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.image_fixtures import write_mnist

            write_mnist(out / "data", n_train=6000, n_test=1000)
        cfg = compose_config(out, args.epochs, args.steps, args.model)
        uri = f"sqlite:///{out / 'mlflow.db'}"
        steps = args.epochs * args.steps
        # warm-up (allocator, kernels, lazy imports) and the same-work check
        _, plain_g = plain_loop(cfg, steps)
        _, ganlab_g = ganlab_loop(cfg, uri, out)
        if not same_weights(plain_g, ganlab_g):
            raise SystemExit("the two loops diverged: they no longer do the same work")
        plain_times, ganlab_times = [], []
        for round_index in range(args.rounds):
            plain_times.append(plain_loop(cfg, steps)[0])
            ganlab_times.append(ganlab_loop(cfg, uri, out)[0])
            print(
                f"round {round_index + 1:2d}: plain {steps / plain_times[-1]:7.1f} steps/s   "
                f"ganlab {steps / ganlab_times[-1]:7.1f} steps/s   "
                f"ratio {plain_times[-1] / ganlab_times[-1]:.3f}"
            )
    log_ratios = [math.log(p / g) for p, g in zip(plain_times, ganlab_times, strict=True)]
    mean = statistics.fmean(log_ratios)
    half_width = 1.96 * statistics.stdev(log_ratios) / math.sqrt(len(log_ratios))
    best_plain, best_ganlab = min(plain_times), min(ganlab_times)
    print(
        f"\n{args.rounds} alternating rounds of {steps} steps ({describe(cfg)}, batch "
        f"{cfg.trainer.batch_size}, {torch.get_num_threads()} threads), identical arithmetic:\n"
        f"  median       plain {steps / statistics.median(plain_times):7.1f} steps/s   "
        f"ganlab {steps / statistics.median(ganlab_times):7.1f} steps/s\n"
        f"  ratio ganlab/plain {math.exp(mean):.3f}  "
        f"(95% CI {math.exp(mean - half_width):.3f}-{math.exp(mean + half_width):.3f}; "
        f"geometric mean of per-round ratios; target >= 0.95)\n"
        f"  ratio of best rounds {best_plain / best_ganlab:.3f}"
    )


if __name__ == "__main__":
    main()
