"""Training throughput: ganlab's trainer vs a plain PyTorch loop, same model, same process.

Both train the same MLP GAN (NS loss, ring8, batch 256) for the same number of steps.
This machine's speed drifts by tens of percent within a minute, so the two loops alternate
one epoch at a time, and the ratio is the geometric mean of the per-round ratios with a
95% confidence interval (a single pair varies by +-10% here; 30 pairs pin the mean to
about +-3%).
ganlab runs its real epoch loop (`ganlab.loop.FitLoop`) with monitors off but with its
per-epoch MLflow logging (SQLite) and checkpointing on, i.e. what a user pays for. The
printed ratio is ganlab steps/s over plain steps/s. Target: >= 0.95.

    python benchmarks/throughput.py [--rounds 10] [--epochs 1] [--steps 250]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from ganlab.build import build_parts
from ganlab.checkpoint import RecentWeights, save_checkpoint
from ganlab.config import register, validate
from ganlab.loop import FitLoop
from ganlab.monitors import build_monitors
from ganlab.paths import CONF_DIR
from ganlab.phases import EarlyStopper
from ganlab.seeding import generator
from ganlab.tracking import RunTracker
from ganlab.train import _checkpoint_payload
from ganlab.trainer import Trainer


def compose_config(out: Path, epochs: int, steps: int):
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "monitor=none",
                "early_stop.rule=none",
                f"trainer.epochs={epochs}",
                f"trainer.steps_per_epoch={steps}",
                "trainer.progress=none",
                f"paths.root={out}",
                f"paths.output_dir={out}/run",
            ],
        )
    return validate(cfg)


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


def ganlab_loop(cfg, tracker: RunTracker, out: Path) -> tuple[float, torch.nn.Module]:
    """ganlab's epoch loop with logging and checkpointing; returns (seconds, generator)."""
    parts = build_parts(cfg, torch.device("cpu"))
    trainer = Trainer(parts, cfg.trainer, cfg.loss, generator(cfg.seed, "train"))
    monitors = build_monitors(cfg, parts, "bench")
    stopper = EarlyStopper(cfg.early_stop)
    ckpt = out / "last.pt"

    def save() -> None:
        save_checkpoint(ckpt, _checkpoint_payload(trainer, tracker.run_id, "", {}, stopper))

    loop = FitLoop(
        trainer,
        monitors,
        stopper,
        tracker,
        cfg,
        save,
        RecentWeights(out / "recent", keep=8),
        "",
        "bench",
    )
    tracker.last_logged_step = -1
    started = time.perf_counter()
    loop.run()
    return time.perf_counter() - started, parts.generator


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=250)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cfg = compose_config(out, args.epochs, args.steps)
        tracker = RunTracker.start(
            f"sqlite:///{out / 'mlflow.db'}", "benchmark", "throughput", {"benchmark": "1"}
        )
        steps = args.epochs * args.steps
        # warm-up (allocator, kernels, lazy imports) and the same-work check
        _, plain_g = plain_loop(cfg, steps)
        _, ganlab_g = ganlab_loop(cfg, tracker, out)
        if not same_weights(plain_g, ganlab_g):
            raise SystemExit("the two loops diverged: they no longer do the same work")
        plain_times, ganlab_times = [], []
        for round_index in range(args.rounds):
            plain_times.append(plain_loop(cfg, steps)[0])
            ganlab_times.append(ganlab_loop(cfg, tracker, out)[0])
            print(
                f"round {round_index + 1:2d}: plain {steps / plain_times[-1]:7.1f} steps/s   "
                f"ganlab {steps / ganlab_times[-1]:7.1f} steps/s   "
                f"ratio {plain_times[-1] / ganlab_times[-1]:.3f}"
            )
        tracker.end()
    log_ratios = [math.log(p / g) for p, g in zip(plain_times, ganlab_times, strict=True)]
    mean = statistics.fmean(log_ratios)
    half_width = 1.96 * statistics.stdev(log_ratios) / math.sqrt(len(log_ratios))
    best_plain, best_ganlab = min(plain_times), min(ganlab_times)
    print(
        f"\n{args.rounds} alternating rounds of {steps} steps (MLP 2x128, batch "
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
