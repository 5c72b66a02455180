"""Peak memory (RSS) of a ring8 run and of an MNIST-sized run, each in its own process.

- ring8: the default run (`ganlab-train`, every default monitor), shortened to a few
  epochs (memory does not grow with epochs: nothing per epoch is kept in memory).
- MNIST-sized: `experiment=phases_mnist` (DCGAN width 64, batch 64, FID and class coverage
  on 10k samples) on 60,000 + 10,000 images written in MNIST's IDX format (no download;
  the content is synthetic, the sizes are MNIST's), FID in ganlab's classifier features.

Each case runs in a fresh child process; the baseline is a child that only imports
ganlab, torch and mlflow. Prints peak RSS per case and what the run adds to the baseline.

    python benchmarks/memory.py
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

CASES = {
    "ring8": [
        "trainer.epochs=5",
        "monitor.duality_gap.every_n_epochs=5",
    ],
    "mnist": [
        "experiment=phases_mnist",
        "dataset.download=false",
        "trainer.epochs=1",
        "trainer.steps_per_epoch=100",
        "monitor.fid.feature_extractor=classifier",
        "monitor.classifier.train_epochs=1",
        "monitor.duality_gap.steps=50",
    ],
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_case(name: str, root: Path) -> None:
    """In the child: train the case, then print this process's peak RSS."""
    import torch  # noqa: F401 - the baseline's imports
    from hydra import compose, initialize_config_dir

    from ganlab.config import register
    from ganlab.core.paths import CONF_DIR

    if name == "baseline":
        import ganlab.launch.app  # noqa: F401

        print(f"{peak_rss_mb():.0f}")
        return
    from ganlab.training.run import train

    overrides = [
        *CASES[name],
        "trainer.progress=none",
        f"paths.root={root}",
        f"paths.output_dir={root / name}",
        f"paths.data_root={root / 'data'}",
    ]
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    train(cfg)
    print(f"{peak_rss_mb():.0f}")


def measure(name: str, root: Path) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--case", name, "--root", str(root)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["baseline", *CASES], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.root)
        return
    sys.path.insert(0, str(PROJECT))
    from tests.image_fixtures import write_mnist

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_mnist(root / "data", n_train=60_000, n_test=10_000)
        baseline = measure("baseline", root)
        print(f"baseline (python + torch + mlflow + ganlab imported): {baseline:.0f} MB\n")
        print(f"{'run':<10}{'peak RSS MB':>13}{'above baseline':>16}")
        for name in CASES:
            peak = measure(name, root)
            print(f"{name:<10}{peak:>13.0f}{peak - baseline:>16.0f}")


if __name__ == "__main__":
    main()
