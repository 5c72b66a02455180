"""`ganlab-compare`: tables and figures across runs, from the tracking store.

Runs are selected by experiment, sweep (its parent run id), tags and an MLflow filter.
For each run it reports what its own stopping rule decided (re-applied to the stored
history with the run's logged `early_stop.*` params, which reproduces the online
decision), the epoch whose weights a stop at the trigger keeps (the best so far; the
run's best when the rule never fires), the oracle epoch, regret, quality kept and at the
end, and when each phase began; then per group (--by: tags or any config key, default:
per loss, across seeds) the mean and 95% confidence interval (Student's t over the
group's runs) of the final, best and kept quality and of the kept epoch, with the
number of runs.

Writes into --out: `runs.csv` / `runs.md`, `groups.csv` / `groups.md`, `grid.png` (one
column per group: steepness, D gradient and quality over epochs, one line per run, kept
epochs marked), `bands.png` (each group's mean quality over epochs with its 95% CI band)
and, with --per-run, each run's phase figure. With --sweep the files are
also logged to the sweep's parent run.

    ganlab-compare --experiment loss_zoo_ring8 --out compare/
    ganlab-compare --sweep 3f2a...e1 --by loss,dataset
    ganlab-compare --experiment mmnsat_paper --by loss,trainer.ema_decay
    ganlab-compare --experiment ganlab --tag dataset=grid25 --filter "params.seed = '0'"
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ganlab.core.errors import GanlabError
from ganlab.core.paths import check_writable, project_root
from ganlab.core.secrets import clean_command_line
from ganlab.rules import (
    COLLAPSING,
    DGRAD_KEY,
    REFINING,
    STEEPNESS_P90_KEY,
    Timeline,
    apply_rule,
    quality_series,
)
from ganlab.rules.figure import rule_figure
from ganlab.rules.verdict import Verdict, rule_of, verdict
from ganlab.study.tables import fmt, markdown_table, write_csv
from ganlab.study.uncertainty import fmt_ci, mean_ci
from ganlab.tracking import (
    RunTracker,
    StoredRun,
    check_tracking,
    load_runs,
    resolve_tracking_uri,
)

RUN_HEADER = [
    "run",
    "id",
    "group",
    "status",
    "refining from",
    "collapsing from",
    "failing from",
    "trigger",
    "kept",
    "oracle",
    "quality (kept)",
    "quality (best)",
    "quality (final)",
    "regret",
]
GROUP_HEADER = [
    "group",
    "runs",
    "failed",
    "quality (final) mean ± 95% CI",
    "quality (best) mean ± 95% CI",
    "quality (kept) mean ± 95% CI",
    "kept epoch mean ± 95% CI",
    "median regret",
    "triggered",
    "marked failing",
]


def key_value(run: StoredRun, key: str) -> str:
    """A run's value of `key`: a tag (loss, dataset, seed, ...) or any logged config key
    (trainer.ema_decay, loss.r1_weight, ...); '?' when the run has neither."""
    if key in run.tags:
        return run.tags[key]
    return run.params.get(key, "?")


def unknown_key(runs: Sequence[StoredRun], by: Sequence[str]) -> str | None:
    """One sentence for a --by key that no run has (every run would land in a group
    named '?'), naming the keys closest to it that exist; None when all are known."""
    import difflib

    known = {k for run in runs for k in (*run.tags, *run.params)}
    for key in by:
        if key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.5)
            hint = f"; the nearest that exist: {', '.join(near)}" if near else ""
            return (
                f"--by {key}: no run has this tag or config key{hint} (tags such as loss, "
                "dataset, seed, or any logged config key like optim.d.lr)."
            )
    return None


def group_of(run: StoredRun, by: Sequence[str]) -> str:
    return "/".join(key_value(run, key) for key in by)


def own_verdict(run: StoredRun) -> tuple[Timeline, Verdict | None]:
    """The run's timeline under the rule it trained with, and its verdict (None when it
    logged no quality: monitors off)."""
    cfg = rule_of(run.params)
    judged = verdict(run.history, cfg)
    return (judged.timeline if judged else apply_rule(run.history, cfg)), judged


def first_epoch_in(timeline: Timeline, phase: int) -> int | None:
    """First evaluation in `phase`; for REFINING, in refining or later (collapsing)."""
    wanted = {REFINING, COLLAPSING} if phase == REFINING else {phase}
    return next(
        (e for e, p in zip(timeline.epochs, timeline.phases, strict=True) if p in wanted), None
    )


def run_row(run: StoredRun, by: Sequence[str]) -> tuple[list[str], Verdict | None]:
    timeline, judged = own_verdict(run)
    cells = [
        run.name,
        run.run_id[:8],
        group_of(run, by),
        run.status,
        fmt(first_epoch_in(timeline, REFINING)),
        fmt(first_epoch_in(timeline, COLLAPSING)),
        fmt(timeline.failing_epoch),
    ]
    if judged is None:
        return cells + ["-"] * (len(RUN_HEADER) - len(cells)), None
    return cells + [
        fmt(judged.trigger_epoch),
        str(judged.kept_epoch),
        str(judged.oracle_epoch),
        fmt(judged.quality_kept),
        fmt(judged.quality_at_oracle),
        fmt(judged.final_quality),
        fmt(judged.regret),
    ], judged


def final_value(run: StoredRun, key: str) -> float | None:
    """The last logged value of `key` in the run's history (None when never logged)."""
    return next((m[key] for _, m in reversed(run.history) if key in m), None)


def group_header(finals: Sequence[str] = ()) -> list[str]:
    return GROUP_HEADER + [f"{key} (final) mean ± 95% CI" for key in finals]


def group_rows(
    runs: Sequence[StoredRun], by: Sequence[str], finals: Sequence[str] = ()
) -> list[list[str]]:
    """One row per group; `finals`: more metric keys whose last values are summarised."""
    groups: dict[str, list[tuple[StoredRun, Verdict | None]]] = {}
    for run in runs:
        groups.setdefault(group_of(run, by), []).append((run, run_row(run, by)[1]))
    rows = []
    for name, members in sorted(groups.items()):
        judged = [j for _, j in members if j is not None]

        def median(values: list[float]) -> str:
            return fmt(statistics.median(values)) if values else "-"

        rows.append(
            [
                name,
                str(len(members)),
                str(sum(r.status != "FINISHED" for r, _ in members)),
                fmt_ci([j.final_quality for j in judged]),
                fmt_ci([j.quality_at_oracle for j in judged]),
                fmt_ci([j.quality_kept for j in judged]),
                fmt_ci([float(j.kept_epoch) for j in judged], 1),
                median([j.regret for j in judged]),
                fmt(sum(j.trigger_epoch is not None for j in judged) / len(judged), 2)
                if judged
                else "-",
                fmt(sum(j.failing_epoch is not None for j in judged) / len(judged), 2)
                if judged
                else "-",
                *(
                    fmt_ci([v for r, _ in members if (v := final_value(r, key)) is not None])
                    for key in finals
                ),
            ]
        )
    return rows


def _curve(run: StoredRun, key: str) -> tuple[list[int], list[float]]:
    points = [(e, m[key]) for e, m in run.history if key in m and e >= 1]
    return [e for e, _ in points], [v for _, v in points]


def _seed_order(run: StoredRun) -> tuple[int, str]:
    """Legend order: seed 0, 1, 2, ... (numerically), then anything else by name."""
    seed = run.tags.get("seed", "")
    return (int(seed), run.name) if seed.isdigit() else (1 << 62, run.name)


def _mark_phase_onsets(ax: Axes, run: StoredRun, timeline: Timeline, color: str) -> None:
    """On the steepness curve: a triangle where refining begins, a cross where collapsing does."""
    epochs, values = _curve(run, STEEPNESS_P90_KEY)
    for phase, marker in ((REFINING, "v"), (COLLAPSING, "X")):
        onset = first_epoch_in(timeline, phase)
        if onset is not None and onset in epochs:
            ax.plot(
                onset, values[epochs.index(onset)], marker, color=color, ms=7, mec="black", mew=0.5
            )


def grid_figure(runs: Sequence[StoredRun], by: Sequence[str]) -> Figure:
    """One column per group; rows: steepness p90, D gradient p90, quality; a line per run."""
    groups: dict[str, list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(group_of(run, by), []).append(run)
    names = sorted(groups)
    fig = Figure(figsize=(2.6 * len(names) + 1, 7), dpi=100)
    axes = fig.subplots(3, len(names), sharex=True, sharey="row", squeeze=False)
    for column, name in enumerate(names):
        for index, run in enumerate(sorted(groups[name], key=_seed_order)):
            color = f"C{index % 10}"
            label = f"s{run.tags.get('seed', '?')} {run.run_id[:6]}"
            for row, key in enumerate((STEEPNESS_P90_KEY, DGRAD_KEY)):
                axes[row][column].plot(*_curve(run, key), color=color, lw=1)
            timeline, judged = own_verdict(run)
            _mark_phase_onsets(axes[0][column], run, timeline, color)
            epochs, quality = quality_series(run.history)
            axes[2][column].plot(epochs, quality, color=color, lw=1, label=label)
            kept = judged.kept_epoch if judged is not None else None
            if kept is not None and kept in epochs:
                axes[2][column].plot(kept, quality[epochs.index(kept)], "o", color=color, ms=5)
        axes[0][column].set_title(name, fontsize=10)
        axes[2][column].set_xlabel("epoch")
        axes[2][column].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[2][column].legend(fontsize=7, loc="lower right")
    for row, label in enumerate(("steepness p90", "D grad at fakes p90", "quality")):
        axes[row][0].set_ylabel(label)
        for ax in axes[row]:
            ax.grid(alpha=0.3)
            # log scale only where something positive was drawn (monitors may be off)
            if row < 2 and any(
                len(line.get_ydata()) and max(line.get_ydata()) > 0 for line in ax.get_lines()
            ):
                ax.set_yscale("log")
    axes[2][0].set_ylim(-0.02, 1.02)
    title = (
        f"runs by {', '.join(by)}: triangles mark where refining begins, crosses where "
        "collapsing begins, dots the epoch each run keeps"
    )
    width_chars = max(40, int(fig.get_figwidth() * 100 / 7))  # ~7 px a character at 10 pt
    wrapped = textwrap.fill(title, width_chars)
    fig.suptitle(wrapped, fontsize=10)
    # fixed margins in inches (tight_layout cost 0.5 s here, a third of a sweep's summary)
    width, height = fig.get_figwidth(), fig.get_figheight()
    title_inches = 0.45 + 0.17 * (wrapped.count("\n") + 1)
    fig.subplots_adjust(
        left=1.05 / width,
        right=1 - 0.15 / width,
        bottom=0.5 / height,
        top=1 - title_inches / height,
        wspace=0.08,
        hspace=0.12,
    )
    return fig


FEW_RUNS = 3  # groups this small get a note that their interval is wide


def band_figure(runs: Sequence[StoredRun], by: Sequence[str]) -> Figure:
    """Quality over epochs per group: the mean over its runs and the 95% CI band (seeds),
    clipped to the range quality can take (0-1 on mixtures). A group of two or three
    runs gets a wide band (Student's t with 1-2 degrees of freedom); its legend says so."""
    groups: dict[str, list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(group_of(run, by), []).append(run)
    fig = Figure(figsize=(7, 4.2), dpi=100)
    ax = fig.subplots()
    # mixtures plot hq x coverage in [0, 1]; images minus FID, at most 0
    bounded = all(any("quality/hq_fraction" in m for _, m in run.history) for run in runs)
    for index, (name, members) in enumerate(sorted(groups.items())):
        by_epoch: dict[int, list[float]] = {}
        for run in members:
            for epoch, value in zip(*quality_series(run.history), strict=True):
                by_epoch.setdefault(epoch, []).append(value)
        epochs = sorted(by_epoch)
        stats = [mean_ci(by_epoch[e]) for e in epochs]
        means = [m for m, _ in stats]  # type: ignore[misc]
        halves = [0.0 if h != h else h for _, h in stats]  # type: ignore[misc]
        low_bound, high_bound = (0.0, 1.0) if bounded else (-math.inf, 0.0)
        color = f"C{index % 10}"
        n = len(members)
        few = f", {n} runs: a wide interval" if 1 < n <= FEW_RUNS else ""
        ax.plot(epochs, means, color=color, lw=1.5, label=f"{name} (n={n}{few})")
        ax.fill_between(
            epochs,
            [max(low_bound, m - h) for m, h in zip(means, halves, strict=True)],
            [min(high_bound, m + h) for m, h in zip(means, halves, strict=True)],
            color=color,
            alpha=0.2,
            lw=0,
        )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("quality (quality/score; images without it: -FID)")
    ax.set_title(f"mean and 95% CI over runs, by {', '.join(by)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.9)
    return fig


def write_comparison(
    runs: Sequence[StoredRun],
    out: Path,
    by: Sequence[str] = ("loss",),
    tracker: RunTracker | None = None,
    per_run_figures: bool = False,
    finals: Sequence[str] = (),
) -> str:
    """Write tables and figures into `out` (and log them to `tracker`); return the text."""
    out.mkdir(parents=True, exist_ok=True)
    runs = sorted(runs, key=lambda run: (group_of(run, by), *_seed_order(run)))
    per_run = [run_row(run, by)[0] for run in runs]
    per_group = group_rows(runs, by, finals)
    header = group_header(finals)
    write_csv(out / "runs.csv", RUN_HEADER, per_run)
    write_csv(out / "groups.csv", header, per_group)
    text = markdown_table(RUN_HEADER, per_run) + "\n\n" + markdown_table(header, per_group)
    (out / "runs.md").write_text(markdown_table(RUN_HEADER, per_run) + "\n")
    (out / "groups.md").write_text(markdown_table(header, per_group) + "\n")
    figure = grid_figure(runs, by)
    figure.savefig(out / "grid.png")
    band_figure(runs, by).savefig(out / "bands.png")
    if per_run_figures:
        (out / "runs").mkdir(exist_ok=True)
        for run in runs:
            run_figure = rule_figure(
                run.history, rule_of(run.params), f"{run.name} ({run.run_id[:8]})"
            )
            run_figure.savefig(out / "runs" / f"{run.name}-{run.run_id[:8]}.png")
    if tracker is not None:
        tracker.log_artifacts(out, "comparison")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ganlab-compare",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("--tracking-uri", help="default: as ganlab-train resolves it")
    parser.add_argument(
        "--experiment",
        help="the experiment to compare (default: the sweep's own with --sweep, else ganlab)",
    )
    parser.add_argument("--sweep", help="parent run id of a sweep: compare its jobs")
    parser.add_argument("--tag", action="append", default=[], help="KEY=VALUE, repeatable")
    parser.add_argument("--filter", default="", help="MLflow filter string")
    parser.add_argument(
        "--by", default="loss", help="tags or config keys to group by, comma-separated"
    )
    parser.add_argument("--out", type=Path, default=Path("compare"), help="output folder")
    parser.add_argument("--per-run", action="store_true", help="also a phase figure per run")
    parser.add_argument(
        "--final",
        action="append",
        default=[],
        metavar="KEY",
        help="also the mean ± 95%% CI of this metric's last value per group (repeatable)",
    )
    args = parser.parse_args(clean_command_line("ganlab-compare", argv))

    clauses = [args.filter] if args.filter else []
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"ganlab-compare: error: --tag {item}: use KEY=VALUE.", file=sys.stderr)
            return 2
        clauses.append(f"tags.`{key}` = '{value}'")
    uri = resolve_tracking_uri(args.tracking_uri, project_root())
    try:
        check_writable(args.out, "--out")  # before any run is read
        check_tracking(uri, False, 5.0)  # a dead server: one line, not a hang
        tracker = None
        if args.sweep:
            tracker = RunTracker.existing(uri, args.sweep)  # names the id when it is unknown
            clauses.append(f"tags.`mlflow.parentRunId` = '{tracker.run_id}'")  # a full id
            args.experiment = args.experiment or tracker.experiment_name
        args.experiment = args.experiment or "ganlab"
        runs = load_runs(uri, args.experiment, " and ".join(clauses))
    except GanlabError as exc:
        print(f"ganlab-compare: error: {exc}", file=sys.stderr)
        return 2
    runs = [r for r in runs if r.tags.get("ganlab.role") is None]  # sweep/benchmark parents
    if not runs:
        print(
            f"ganlab-compare: no runs match in experiment '{args.experiment}' of {uri}.",
            file=sys.stderr,
        )
        return 1
    by = [key.strip() for key in args.by.split(",") if key.strip()]
    unknown = unknown_key(runs, by)
    if unknown is not None:
        print(f"ganlab-compare: error: {unknown}", file=sys.stderr)
        return 2
    print(write_comparison(runs, args.out, by, tracker, args.per_run, args.final))
    print(f"\nwritten to {args.out}/" + (f" and logged to run {args.sweep}" if tracker else ""))
    return 0


def cli() -> None:
    sys.exit(main())
