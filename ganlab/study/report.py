"""The collapse benchmark's report: labels, tuned rules, held-out scores, figures.

Every rule family is tuned on the tuning split only (`TUNING_GRIDS`, ranked by
ganlab.study.scoring.objective); the chosen setting, the shipped default and the
never-stop baseline are then scored on both splits. The held-out columns are the
numbers to quote: nothing about those runs influenced any choice.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ganlab.config import EarlyStopConfig
from ganlab.study.catalogue import FAMILY_TAG, SCENARIO_TAG, SEED_TAG, Catalogue
from ganlab.study.labels import COLLAPSED, LABELS, NEVER_FITTED
from ganlab.study.scoring import (
    FALSE_ALARM_BUDGET,
    HIT_SLACK,
    LabelledRun,
    Outcome,
    Score,
    decide,
    labelled,
    score,
    tune,
)
from ganlab.study.tables import fmt, markdown_table, write_csv
from ganlab.tracking import RunTracker, StoredRun


def _grid(rule: str, **axes: Sequence[Any]) -> list[EarlyStopConfig]:
    names = list(axes)
    return [
        EarlyStopConfig(rule=rule, **dict(zip(names, values, strict=True)))
        for values in itertools.product(*(axes[n] for n in names))
    ]


TUNING_GRIDS: dict[str, list[EarlyStopConfig]] = {
    # the rule shipped before the benchmark: a spike of D's gradient against its recent
    # median (reference recent) or running minimum (running), optionally with steepness
    "gradient": _grid(
        "gradient",
        tau=(1.0, 2.0, 3.0),
        reference=("recent", "running"),
        beta=(0.0, 1.0),
        ema=(0.5, 1.0),
    ),
    # CUSUM channels, escalation, and the failing channels (ganlab.rules.detectors):
    # gradients and signals only, no quality metric
    "combined": _grid(
        "combined",
        shift_up=(0.0, 2.0, 3.0, 4.0),
        shift_down=(0.0, 3.0),
        escalation=(0.0, math.log(5), math.log(10), math.log(30), math.log(100)),
        drift=(0.3, 0.5),
        shift_window=(3, 5),
        dominance=(0.75, 0.8, 0.9, 1.0),
        fail_patience=(3, 6, 10),
    ),
    # the same with the quality channel (the sustained fall of hq x coverage): what a
    # rule gains from the quality metric, where it is cheap enough to log every epoch
    "combined+quality": _grid(
        "combined",
        quality_drop=(0.3, 0.4, 0.5, 0.6),
        quality_floor=(0.25, 0.5),
        shift_up=(0.0, 3.0),
        escalation=(0.0, math.log(30), math.log(100)),
        dominance=(0.75, 0.9, 1.0),
        fail_patience=(3, 6, 10),
    ),
}
NEVER_STOP = EarlyStopConfig(rule="none")
# the default before the benchmark: a spike of D's gradient against its recent median
PREVIOUS_DEFAULT = EarlyStopConfig(rule="gradient")
ORACLE = EarlyStopConfig(rule="oracle")


def short(name: str) -> str:
    """A rule's row name as an MLflow key: 'combined+quality (tuned)' -> combined_quality."""
    return name.split(" ")[0].replace("+", "_")


def label_runs(runs: Sequence[StoredRun], catalogue: Catalogue) -> list[LabelledRun]:
    out = []
    for run in runs:
        family, seed = run.tags.get(FAMILY_TAG, "?"), int(run.tags.get(SEED_TAG, "-1"))
        out.append(
            labelled(
                run.name,
                family,
                run.tags.get(SCENARIO_TAG, "?"),
                seed,
                catalogue.split_of(family, seed),
                run.history,
                catalogue.label_criteria(family),
            )
        )
    return out


RULE_PARAMETERS = {
    "gradient": ("tau", "reference", "ema", "beta", "patience"),
    "combined": (
        "shift_up",
        "shift_down",
        "escalation",
        "quality_drop",
        "quality_floor",
        "drift",
        "shift_window",
        "dominance",
        "fail_patience",
    ),
}


def describe(cfg: EarlyStopConfig) -> str:
    """The rule and the settings it reads, e.g. 'combined escalation=3.4 dominance=0.75';
    channels switched off (0) and their settings are left out."""
    parts = [cfg.rule]
    for name in RULE_PARAMETERS.get(cfg.rule, ()):
        value = getattr(cfg, name)
        if value == 0 and name in ("shift_up", "shift_down", "escalation", "quality_drop"):
            continue
        if name == "quality_floor" and cfg.quality_drop == 0:
            continue
        if name in ("drift", "shift_window") and cfg.shift_up == 0 and cfg.shift_down == 0:
            continue
        parts.append(f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}")
    return " ".join(parts)


SCORE_HEADER = [
    "rule",
    "split",
    "collapsed caught by onset+3",
    "lag (median [IQR])",
    "early",
    "false alarms, healthy",
    "alarms, recovering",
    "never-fitted marked failing by half",
    "median failing epoch",
    "median regret",
    "mean regret",
]


def score_row(name: str, split: str, s: Score) -> list[str]:
    return [
        name,
        split,
        s.hit.text(),
        s.lag_text(),
        s.early.text(),
        s.false_alarm_healthy.text(),
        s.alarm_recovering.text(),
        s.failing.text(),
        s.failing_epoch_text(),
        fmt(s.median_regret),
        fmt(s.mean_regret),
    ]


def label_table(runs: Sequence[LabelledRun]) -> tuple[list[str], list[list[str]]]:
    """Runs per scenario and label."""
    header = ["family", "scenario", "runs", *LABELS]
    groups: dict[tuple[str, str], list[LabelledRun]] = {}
    for run in runs:
        groups.setdefault((run.family, run.scenario), []).append(run)
    rows = []
    for (family, scenario), members in sorted(groups.items()):
        counts = [str(sum(r.label.label == label for r in members)) for label in LABELS]
        rows.append([family, scenario, str(len(members)), *counts])
    totals = [str(sum(r.label.label == label for r in runs)) for label in LABELS]
    rows.append(["**all**", "", str(len(runs)), *totals])
    return header, rows


RUN_HEADER = [
    "run",
    "split",
    "label",
    "fit",
    "best",
    "onset",
    "rule",
    "trigger",
    "cause",
    "failing from",
    "stop",
    "q(stop)",
    "q(best)",
    "regret",
    "why this label",
]


def run_rows(outcomes: Mapping[str, Sequence[Outcome]]) -> list[list[str]]:
    rows = []
    for rule, items in outcomes.items():
        for o in items:
            label = o.run.label
            rows.append(
                [
                    o.run.name,
                    o.run.split or "-",
                    label.label,
                    fmt(label.fit_epoch),
                    fmt(label.best_epoch),
                    fmt(label.onset_epoch),
                    rule,
                    fmt(o.trigger_epoch),
                    o.cause or "-",
                    fmt(o.failing_epoch),
                    str(o.stop_epoch),
                    fmt(o.quality_at_stop),
                    fmt(o.best_quality),
                    fmt(o.regret),
                    label.reason,
                ]
            )
    return rows


def scores_figure(scores: Mapping[str, Score], split: str) -> Figure:
    """Bars per rule: caught collapses, false alarms on healthy runs, failing marked."""
    fig = Figure(figsize=(9, 4.2), dpi=100)
    ax_rates, ax_regret = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1.3]})
    measures = (
        ("hit", "collapsed caught\nby onset+3", "tab:green"),
        ("false_alarm_healthy", "false alarms\n(healthy)", "tab:red"),
        ("failing", "never-fitted marked\nfailing by half", "tab:blue"),
    )
    names = list(scores)
    width = 0.8 / len(measures)
    from ganlab.study.scoring import wilson

    for k, (attr, label, color) in enumerate(measures):
        xs, values, low, high = [], [], [], []
        for i, name in enumerate(names):
            rate = getattr(scores[name], attr)
            value = rate.value if rate.value is not None else 0.0
            lo, hi = wilson(rate.hits, rate.n)
            xs.append(i + (k - 1) * width)
            values.append(value)
            low.append(max(0.0, value - lo))
            high.append(max(0.0, hi - value))
        ax_rates.bar(xs, values, width, color=color, label=label, yerr=[low, high], capsize=2)
    ax_rates.axhline(0.8, color="tab:green", ls=":", lw=1)
    ax_rates.axhline(FALSE_ALARM_BUDGET, color="tab:red", ls=":", lw=1)
    labels = [n.split(" ", 1)[0] for n in names]
    ax_rates.set_xticks(range(len(names)), labels, fontsize=8, rotation=25, ha="right")
    ax_rates.set_ylim(0, 1.05)
    ax_rates.set_ylabel("share of runs (95% CI)")
    ax_rates.legend(fontsize=7, loc="upper left", ncol=3)
    ax_rates.grid(axis="y", alpha=0.3)
    medians = [scores[n].median_regret or 0.0 for n in names]
    ax_regret.bar(range(len(names)), medians, color="tab:gray")
    ax_regret.axhline(0.05, color="black", ls=":", lw=1)
    ax_regret.set_xticks(range(len(names)), labels, fontsize=8, rotation=25, ha="right")
    ax_regret.set_ylabel("median regret (quality)")
    fig.suptitle(
        f"collapse benchmark, {split} runs: dotted lines are the targets "
        "(>= 0.8 caught, <= 0.1 false alarms, regret <= 0.05)",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.88, wspace=0.3)
    return fig


def runs_figure(outcomes: Sequence[Outcome], title: str, limit: int = 36) -> Figure:
    """Small multiples: each run's quality, its collapse onset (red) and the rule's
    trigger (black; dashed when the cause is 'failing')."""
    shown = [o for o in outcomes if o.label in (COLLAPSED, NEVER_FITTED)][:limit]
    columns = 6
    rows = max(1, math.ceil(len(shown) / columns))
    fig = Figure(figsize=(2.2 * columns, 1.7 * rows + 0.6), dpi=90)
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, o in zip(axes.flat, shown, strict=False):
        ax.set_visible(True)
        ax.plot(o.run.epochs, o.run.quality, color="tab:green", lw=1)
        if o.run.label.onset_epoch is not None:
            ax.axvline(o.run.label.onset_epoch, color="tab:red", lw=1)
        if o.trigger_epoch is not None:
            ax.axvline(
                o.trigger_epoch, color="black", lw=1, ls="--" if o.cause == "failing" else "-"
            )
        ax.set_title(f"{o.run.name}\n{o.label}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_ylim(-0.02, 1.02)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.05, top=0.9, hspace=0.8, wspace=0.15)
    return fig


def write_report(
    stored: Sequence[StoredRun],
    catalogue: Catalogue,
    out: Path,
    parent: RunTracker | None = None,
) -> str:
    """Label, tune, score; write everything into `out` (and log it to `parent`)."""
    out.mkdir(parents=True, exist_ok=True)
    runs = [r for r in label_runs(stored, catalogue) if r.split is not None]
    tune_runs = [r for r in runs if r.split == "tune"]
    holdout = [r for r in runs if r.split == "holdout"]

    header, rows = label_table(runs)
    write_csv(out / "labels.csv", header, rows)
    sections = ["## Labels (every run, both splits)", markdown_table(header, rows)]

    chosen: dict[str, EarlyStopConfig] = {}
    for family, grid in TUNING_GRIDS.items():
        ranked = tune(tune_runs, grid) if tune_runs else [(grid[0], None)]
        chosen[f"{family} (tuned)"] = ranked[0][0]
    rules: dict[str, EarlyStopConfig] = {
        "previous default": PREVIOUS_DEFAULT,
        **chosen,
        "shipped default": EarlyStopConfig(),
        "never stop": NEVER_STOP,
        "oracle": ORACLE,
    }
    score_rows: list[list[str]] = []
    all_scores: dict[str, dict[str, Score]] = {}
    outcomes_by_rule: dict[str, list[Outcome]] = {name: [] for name in rules}
    for split, members in (("tune", tune_runs), ("holdout", holdout)):
        all_scores[split] = {}
        for name, cfg in rules.items():
            outcomes = [decide(run, cfg) for run in members]
            s = score(outcomes)
            all_scores[split][name] = s
            score_rows.append(score_row(f"{name}: {describe(cfg)}", split, s))
            outcomes_by_rule[name] += outcomes
    write_csv(out / "scores.csv", SCORE_HEADER, score_rows)
    sections += [
        f"## Scores (hit: flagged between the best epoch and onset + {HIT_SLACK} evaluations)",
        markdown_table(SCORE_HEADER, score_rows),
    ]
    write_csv(out / "runs.csv", RUN_HEADER, run_rows(outcomes_by_rule))

    figures = {
        "scores_holdout.png": scores_figure(
            {n: s for n, s in all_scores["holdout"].items() if n != "oracle"}, "held-out"
        ),
        "scores_tune.png": scores_figure(
            {n: s for n, s in all_scores["tune"].items() if n != "oracle"}, "tuning"
        ),
    }
    best_combined = next(n for n in rules if n.startswith("combined"))
    figures["runs_holdout.png"] = runs_figure(
        [o for o in outcomes_by_rule[best_combined] if o.run.split == "holdout"],
        f"held-out collapsed and never-fitted runs: quality, onset (red), "
        f"trigger of {best_combined} (black; dashed = failing)",
    )
    for name, figure in figures.items():
        figure.savefig(out / name)
    text = "\n\n".join(sections)
    (out / "report.md").write_text(text + "\n")
    if parent is not None:
        parent.log_artifacts(out, "benchmark")
        metrics = {}
        for split, by_rule in all_scores.items():
            for name, s in by_rule.items():
                key = short(name)
                for measure, rate in (
                    ("hit_rate", s.hit),
                    ("false_alarm_healthy", s.false_alarm_healthy),
                    ("failing_rate", s.failing),
                ):
                    if rate.value is not None:
                        metrics[f"benchmark/{split}/{key}/{measure}"] = rate.value
                if s.median_regret is not None:
                    metrics[f"benchmark/{split}/{key}/median_regret"] = s.median_regret
        parent.log_metrics(metrics, step=0)
        parent.set_tags({f"benchmark.chosen.{short(n)}": describe(c) for n, c in chosen.items()})
    return text
