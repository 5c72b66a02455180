"""`ganlab-benchmark collapse`: train what the trajectory set lacks, then score the rules.

    ganlab-benchmark collapse --score-only            # re-score the shipped trajectory set
    ganlab-benchmark collapse --score-only --holdout  # ... and look at held-out scores (logged)
    ganlab-benchmark collapse                         # train what is missing (~4 h), then score
    ganlab-benchmark collapse --quick                 # 6 short runs (~2 min): the machinery
    ganlab-benchmark collapse --rewind --train-only   # train rewind/record pairs (hours)
    ganlab-benchmark collapse hydra/launcher=slurm hydra.launcher.partition=cpu   # on SLURM

Training: every catalogue run (ganlab/study/collapse_catalogue.yaml; its scenarios are
configs in ganlab/conf/collapse/) that the trajectory set does not hold yet is trained with the
rule only recording, family by family, as `ganlab-train -m` sweeps (the warm process,
joblib or SLURM, requeue and the sweep summary come with that); each sweep nests under
the benchmark's parent MLflow run, and its finished runs are added to the trajectory set
as soon as it ends, so an interrupted benchmark trains only what it still lacks.
Overrides after the benchmark's name go to every sweep (a launcher, its settings).

Scoring (ganlab.study.report): labels every run from its own quality history, then
scores the sealed choice, the baselines and every rule family on the tuning split; the
held-out split only with --holdout and the confirmation split only with --confirm, each
such look appended to docs/collapse-looks.md. `--choose` runs the protocol that makes the
choice (cross-validation inside the tuning split) and seals it. docs/collapse.md explains
the labels, the splits, the protocol and every column.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganlab.core.errors import GanlabError
from ganlab.core.paths import PROJECT_ROOT, check_writable
from ganlab.core.secrets import clean_command_line, redact
from ganlab.launch.studies.catalogue_runs import train_missing
from ganlab.study.catalogue import (
    CATALOGUE_FILE,
    Catalogue,
    load_catalogue,
)
from ganlab.study.trajectories import DEFAULT_PATH, read_or_empty


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganlab-benchmark",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("benchmark", choices=["collapse"], help="which benchmark")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="passed to every training sweep"
    )
    parser.add_argument("--quick", action="store_true", help="the small CI catalogue")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE_FILE, help="YAML catalogue")
    parser.add_argument(
        "--trajectories",
        type=Path,
        help="the trajectory set read and extended (default: "
        f"{DEFAULT_PATH.relative_to(PROJECT_ROOT)}; with --quick or another --catalogue: "
        "<out>/trajectories.parquet)",
    )
    parser.add_argument("--score-only", action="store_true", help="train nothing, only score")
    parser.add_argument(
        "--holdout", action="store_true", help="also print held-out scores (logged as a look)"
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="also print the sealed choice's confirmation scores (logged as a look)",
    )
    parser.add_argument(
        "--natural",
        action="store_true",
        help="also print the natural families' scores (collapses nobody injected; logged "
        "as a look)",
    )
    parser.add_argument(
        "--choose",
        action="store_true",
        help="run the protocol on the tuning split and seal its choice (overwrites the seal)",
    )
    parser.add_argument(
        "--rewind",
        action="store_true",
        help="the rewind study: train every held-out and confirmation run twice on this "
        "machine, recording and rewinding under the sealed rule (the rewind arm only where "
        "the rule fires, and a few controls), and compare the pairs (a logged look); it "
        "trains the pairs only, not what the trajectory set lacks",
    )
    parser.add_argument(
        "--channels",
        action="store_true",
        help="also the channel table: how well each logged channel tells collapsing from "
        "refining and sees an onset coming (AUROC), on the tuning split and on the sealed "
        "splits asked for (--holdout, --confirm, --natural: a logged look)",
    )
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train what is missing and stop: no scores, no look",
    )
    parser.add_argument("--tracking-uri", help="for training; default as ganlab-train resolves it")
    parser.add_argument(
        "--experiment", help="MLflow experiment (default: collapse_benchmark[_quick])"
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (joblib launcher)")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmark_<name>/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # intermixed: overrides may come before or after the flags (`--quick trainer.epochs=3`)
    args = build_parser().parse_intermixed_args(clean_command_line("ganlab-benchmark", argv))
    if args.jobs < 1:
        print("ganlab-benchmark: error: --jobs must be >= 1.", file=sys.stderr)
        return 2
    if args.train_only and args.score_only:
        print(
            "ganlab-benchmark: error: --train-only and --score-only exclude each other; "
            "pass one of them.",
            file=sys.stderr,
        )
        return 2
    experiment = args.experiment or (
        "collapse_benchmark_quick" if args.quick else "collapse_benchmark"
    )
    out = (args.out or Path(f"benchmark_{experiment}")).resolve()
    shipped = not args.quick and args.catalogue == CATALOGUE_FILE
    path = args.trajectories or (DEFAULT_PATH if shipped else out / "trajectories.parquet")
    try:
        check_writable(out, "--out")  # before anything is trained or scored
        catalogue = load_catalogue(args.catalogue, quick=args.quick)
        parent = None
        if args.rewind and not args.score_only:  # the rewind study trains its pairs only
            from ganlab.launch.studies.rewind_study import train_pairs

            rule = rewind_seal(out, shipped)[0].rule  # both arms under the sealed rule
            parent = train_pairs(catalogue, rule, args, experiment, out, shipped, path)
        elif not args.score_only:
            parent = train_missing(catalogue, path, args, experiment, out)
        if args.train_only:
            print(f"\ntrained; nothing scored (--train-only). Trajectory set: {path}")
            return 0
        from ganlab.study.report import write_report

        runs = read_or_empty(path)
        if not runs:
            raise GanlabError(
                f"nothing to score: {path} holds no runs; train them with "
                f"`ganlab-benchmark collapse{' --quick' if args.quick else ''}` (without "
                "--score-only), or pass --trajectories FILE."
            )
        command = "ganlab-benchmark " + redact(" ".join(argv if argv is not None else sys.argv[1:]))
        sealed_splits = [
            split
            for split, asked in (
                ("holdout", args.holdout),
                ("confirm", args.confirm),
                ("natural", args.natural),
            )
            if asked
        ]
        text = write_report(
            runs,
            catalogue,
            out,
            path,
            sealed_splits=sealed_splits,
            choose_now=args.choose,
            sealed=shipped,
            command=command,
        )
        if args.rewind:
            text += "\n\n" + rewind_study(catalogue, out, shipped, command)
        if args.channels:
            text += "\n\n" + channels_study(
                runs, catalogue, out, path, sealed_splits, command, shipped
            )
        if parent is not None:
            parent.log_artifacts(out, "benchmark")
    except GanlabError as exc:
        print(f"ganlab-benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"\nwritten to {out}/ (trajectory set: {path})")
    return 0


def channels_study(
    runs: Sequence[Any],
    catalogue: Catalogue,
    out: Path,
    trajectories: Path,
    sealed_splits: Sequence[str],
    command: str,
    shipped: bool,
) -> str:
    """The channel table (ganlab.study.channels) on the tuning split and, through a
    logged look, on the sealed splits asked for."""
    from ganlab.rules import rule_config
    from ganlab.study.channels import write_channels
    from ganlab.study.looks import LookContext, reveal
    from ganlab.study.protocol import SEAL_PATH, read_seal
    from ganlab.study.report import label_runs

    labelled = label_runs(runs, catalogue)
    shown = [r for r in labelled if r.split == "tune"]
    if sealed_splits:
        seal_path = SEAL_PATH if shipped else out / "choice.json"
        seal = read_seal(seal_path)
        rule = seal.rule if seal is not None else rule_config()
        context = LookContext(command, rule, seal_path, trajectories, catalogue.path)
        revealed = reveal(labelled, sealed_splits, "the channel table", context)
        shown += [r for members in revealed.values() for r in members]
    return write_channels(shown, out, ["tune", *sealed_splits])


def rewind_seal(out: Path, shipped: bool) -> tuple[Any, Path]:
    """The sealed choice the rewind study trains and scores under, and where it lies."""
    from ganlab.study.protocol import SEAL_PATH, read_seal

    seal_path = SEAL_PATH if shipped else out / "choice.json"
    seal = read_seal(seal_path)
    if seal is None:
        raise GanlabError("--rewind needs a sealed choice: run with --choose first.")
    return seal, seal_path


def rewind_study(catalogue: Catalogue, out: Path, shipped: bool, command: str) -> str:
    """Score the pairs the study trained (ganlab.study.rewind_pairs): a look at held-out
    and confirmation runs, logged first."""
    from ganlab.launch.studies.rewind_study import pair_paths
    from ganlab.study.looks import LookContext, file_digest, reveal
    from ganlab.study.report import label_runs
    from ganlab.study.rewind_pairs import (
        SUMMARY_HEADER,
        make_pairs,
        pairs_figure,
        status_rows,
        summary_rows,
        targets,
    )
    from ganlab.study.scoring import decide
    from ganlab.study.tables import markdown_table, write_csv

    seal, seal_path = rewind_seal(out, shipped)
    record_path, rewind_path = pair_paths(out, shipped)
    recorded_runs = read_or_empty(record_path)
    if not recorded_runs:
        raise GanlabError(
            f"no rewind pairs in {record_path}: train them with `ganlab-benchmark collapse "
            "--rewind` (without --score-only)."
        )
    context = LookContext(command, seal.rule, seal_path, record_path, catalogue.path)
    rewind_sha = file_digest(rewind_path.read_bytes())[:16] if rewind_path.is_file() else "none"
    shown = reveal(
        label_runs(recorded_runs, catalogue),
        ("holdout", "confirm"),
        f"rewind pairs (rewind arm {rewind_sha})",
        context,
    )
    rewound = {r.name: r for r in label_runs(read_or_empty(rewind_path), catalogue)}
    lines = [
        f"## Rewind instead of stop, in true pairs ({seal.rule.rule}, rewind.lr_scale="
        f"{seal.rule.rewind.lr_scale}, rewind.max={seal.rule.rewind.max})",
        "Both arms trained by this study on one machine at one commit; a pair counts only "
        "if its two histories are identical up to the first rewind.",
    ]
    csv_rows: list[list[str]] = []
    everything = []
    for split, runs in shown.items():
        if not runs:
            continue
        outcomes = {r.name: decide(r, seal.rule) for r in runs}
        fired = {n for n, o in outcomes.items() if o.cause == "collapse"}
        pairs = make_pairs(runs, rewound, fired, {n: o.quality_kept for n, o in outcomes.items()})
        everything += pairs
        status_header, status = status_rows(pairs)
        rows = summary_rows(pairs)
        csv_rows += [[split, *row] for row in rows]
        cpus = sorted({t.cpu or "?" for t in recorded_runs if t.run in outcomes})
        lines += [
            f"### {split} runs ({len(runs)}; trained on {', '.join(cpus)})",
            markdown_table(status_header, status),
            markdown_table(SUMMARY_HEADER, rows),
            "Targets: " + "; ".join(targets(pairs)) + ".",
        ]
    write_csv(out / "rewind.csv", ["split", *SUMMARY_HEADER], csv_rows)
    pairs_figure(everything).savefig(out / "rewind.png")
    return "\n\n".join(lines)


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli()
