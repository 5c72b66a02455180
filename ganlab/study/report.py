"""The collapse benchmark's report: labels, the sealed choice, scores per split, the
quality each run keeps, curves.

Nothing here chooses anything unless asked (`choose_now`, ganlab.study.protocol): the
report scores the sealed choice (benchmarks/collapse/choice.json), each rule family's
sealed setting, the previous default and the baselines on the tuning split, and on the
sealed splits (held out, confirmation, natural) only when asked, through
ganlab.study.looks.reveal, which logs the look first. Its first line says whether the
seal holds: the code, settings, labels, model and tuning runs it scores are those the
choice pinned.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ganlab.config import EarlyStopConfig
from ganlab.rules import rule_config
from ganlab.rules.library.learned import SHIPPED_MODEL, SHIPPED_NO_QUALITY_MODEL
from ganlab.study import clusters
from ganlab.study.catalogue import FAMILY_TAG, SCENARIO_TAG, SEED_TAG, Catalogue
from ganlab.study.channels import IMAGE_FAMILIES
from ganlab.study.labels import COLLAPSED, LABELS, NEVER_FITTED, PARTIAL
from ganlab.study.looks import LookContext, reveal, seal_differences, seal_pins
from ganlab.study.phase_check import confusion_rows, label_counts, phase_confusion
from ganlab.study.protocol import (
    FAMILIES,
    NO_QUALITY_FAMILIES,
    NO_QUALITY_SEAL_PATH,
    SEAL_PATH,
    THRESHOLD_OF,
    Seal,
    choose,
    family_setting,
    read_seal,
    settings_of,
    write_seal,
)
from ganlab.study.scoring import (
    FALSE_ALARM_BUDGET,
    HIT_SLACK,
    LabelledRun,
    Outcome,
    RunRecord,
    Score,
    decide,
    labelled,
    median_ci_text,
    rate,
    score,
    wilson,
)
from ganlab.study.tables import fmt, markdown_table, write_csv
from ganlab.study.trajectories import repository_commit

NEVER_STOP = rule_config("none")
# the default before the benchmark: a spike of D's gradient against its recent median
PREVIOUS_DEFAULT = rule_config("gradient")
ORACLE = rule_config("oracle")


def short(name: str) -> str:
    """A rule's row name as an MLflow key: 'combined+quality (tuned)' -> combined_quality."""
    return name.split(" ")[0].replace("+", "_")


def label_runs(runs: Sequence[RunRecord], catalogue: Catalogue) -> list[LabelledRun]:
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


def describe(cfg: EarlyStopConfig) -> str:
    """The rule and the settings that differ from its own defaults, e.g. 'combined
    escalation=3.4 dominance=0.75'."""
    import dataclasses

    default = rule_config(cfg.rule)
    parts = [cfg.rule]
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "rule" or value == getattr(default, f.name):
            continue
        parts.append(f"{f.name}={value:.3g}" if isinstance(value, float) else f"{f.name}={value}")
    return " ".join(parts)


SCORE_HEADER = [
    "rule",
    "split",
    "collapsed caught by onset+3",
    "flagged by the evaluation that shows the drop",
    "lag (median [IQR])",
    "early",
    "alarms, healthy + recovering",
    "false alarms, healthy",
    "alarms, recovering",
    "never-fitted marked failing by half",
    "partial caught (apart)",
    "alarms, ambiguous",
    "median regret, fitted runs [95% CI]",
    "median regret, never fitted",
    "compute saved",
]


def score_row(name: str, split: str, s: Score) -> list[str]:
    return [
        name,
        split,
        s.hit.text(),
        s.by_onset.text(),
        s.lag_text(),
        s.early.text(),
        s.false_alarm_good.text(),
        s.false_alarm_healthy.text(),
        s.alarm_recovering.text(),
        s.failing.text(),
        s.partial.text(),
        s.alarm_ambiguous.text(),
        s.regret_text(),
        median_ci_text(s.regrets_never),
        "-" if s.mean_saved is None else f"{s.mean_saved:.0%}",
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
    "kept at a stop",
    "quality (kept)",
    "quality (best)",
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
                    str(o.kept_epoch),
                    fmt(o.quality_kept),
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
    shown = [o for o in outcomes if o.label in (COLLAPSED, PARTIAL, NEVER_FITTED)][:limit]
    columns = 6
    rows = max(1, math.ceil(len(shown) / columns))
    height = 1.7 * rows + 0.9  # inches; the title gets its own 0.8 above two-line run titles
    fig = Figure(figsize=(2.2 * columns, height), dpi=90)
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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-0.02, 1.02)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(
        left=0.04, right=0.99, bottom=0.05, top=1 - 0.8 / height, hspace=0.8, wspace=0.15
    )
    return fig


def curves_figure(
    curves: Mapping[str, list[tuple[float, float, float]]],
    chosen: Mapping[str, tuple[float, float]],
    split: str,
) -> Figure:
    """Per rule family: catch rate (collapsed caught by onset + 3) against alarm rate
    (healthy and recovering runs) as the family's threshold varies, the other settings
    at the family's sealed values; the sealed setting marked."""
    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.subplots()
    for i, (family, points) in enumerate(curves.items()):
        color = f"C{i}"
        points = sorted(points, key=lambda p: (p[1], p[0]))
        ax.plot(
            [p[1] for p in points], [p[0] for p in points], "-o", ms=3, color=color, label=family
        )
        if family in chosen:
            catch, alarm = chosen[family]
            ax.plot([alarm], [catch], "*", ms=14, color=color, mec="black")
    ax.axvline(FALSE_ALARM_BUDGET, color="tab:red", ls=":", lw=1)
    ax.axhline(0.8, color="tab:green", ls=":", lw=1)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("alarm rate: healthy and recovering runs flagged")
    ax.set_ylabel(f"catch rate: collapsed runs flagged by onset + {HIT_SLACK}")
    ax.set_title(
        f"{split} runs: each family over its threshold (star = sealed setting)", fontsize=9
    )
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def threshold_curve(
    family: str, setting: EarlyStopConfig, runs: Sequence[LabelledRun]
) -> list[tuple[float, float, float]]:
    """(catch rate, alarm rate, threshold) over the family's threshold values."""
    name, values = THRESHOLD_OF[family]
    out = []
    for value in values:
        cfg = rule_config(setting.rule, **{**settings_of(setting), name: value})
        s = score([decide(run, cfg) for run in runs])
        out.append((s.hit.value or 0.0, s.false_alarm_good.value or 0.0, value))
    return out


KEPT_MARGIN = 0.02  # the targets: within this of keeping the best, no family lower by more


def kept_groups(
    outcomes: Sequence[Outcome], value: Callable[[Outcome], float]
) -> list[list[float]]:
    """`value` of the fitted runs, one list per scenario (the cluster bootstrap's unit)."""
    groups: dict[str, list[float]] = {}
    for o in outcomes:
        if o.run.fitted:
            groups.setdefault(o.run.scenario_key, []).append(value(o))
    return [groups[k] for k in sorted(groups)]


def median_text(groups: Sequence[Sequence[float]]) -> str:
    values = [v for g in groups for v in g]
    if not values:
        return "-"
    ci = clusters.median_ci(groups)
    bounds = "" if ci is None else f" {{{ci[0]:.3f}, {ci[1]:.3f}}}"
    return f"{statistics.median(values):.3f}{bounds}"


KEPT_BASELINES: dict[str, Callable[[Outcome], float]] = {
    "never stop, final weights": lambda o: o.final_quality,
    "never stop, keep the best": lambda o: o.best_quality,
}


def kept_table(
    outcomes: Mapping[str, Sequence[Outcome]], families: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Median quality kept on fitted runs: each rule stopping at its trigger (keeping its
    best so far) and the two baselines, over all families {cluster bootstrap over
    scenarios} and per family, with the epochs a stop saves."""
    header = [
        "what the run keeps",
        "fitted runs (scenarios)",
        "median quality kept {95% CI over scenarios}",
        *(f"median, {f}" for f in families),
        "epochs saved",
    ]
    first = next(iter(outcomes.values()), [])
    rows = []
    entries: list[tuple[str, Sequence[Outcome], Callable[[Outcome], float], bool]] = [
        (name, first, value, False) for name, value in KEPT_BASELINES.items()
    ]
    entries += [
        (f"stop: {name}", items, lambda o: o.quality_kept, True) for name, items in outcomes.items()
    ]
    for name, items, value, stops in entries:
        groups = kept_groups(items, value)
        fitted = [o for o in items if o.run.fitted]
        per_family = []
        for family in families:
            values = [value(o) for o in fitted if o.run.family == family]
            per_family.append(fmt(statistics.median(values)) if values else "-")
        saved = statistics.fmean(o.saved for o in items) if stops and items else 0.0
        rows.append(
            [
                name,
                f"{len(fitted)} ({len(groups)})",
                median_text(groups),
                *per_family,
                f"{saved:.0%}",
            ]
        )
    return header, rows


def does_no_harm(outcomes: Sequence[Outcome]) -> tuple[bool, str]:
    """Whether stopping at the rule's trigger (keeping the best so far) does no harm on
    these runs: median kept quality of fitted runs >= never stopping's final weights,
    within KEPT_MARGIN of keeping the best without stopping, and no family where it is
    lower than the final weights by more than KEPT_MARGIN. With the numbers."""
    fitted = [o for o in outcomes if o.run.fitted]
    if not fitted:
        return False, "no fitted runs"
    kept = statistics.median(o.quality_kept for o in fitted)
    final = statistics.median(o.final_quality for o in fitted)
    best = statistics.median(o.best_quality for o in fitted)
    worst = []
    for family in sorted({o.run.family for o in fitted}):
        mine = [o for o in fitted if o.run.family == family]
        gap = statistics.median(o.quality_kept for o in mine) - statistics.median(
            o.final_quality for o in mine
        )
        if gap < -KEPT_MARGIN:
            worst.append(f"{family} {gap:+.3f}")
    ok = kept >= final and kept >= best - KEPT_MARGIN and not worst
    return ok, (
        f"median kept {kept:.3f} against {final:.3f} (final weights) and {best:.3f} (best "
        f"kept); families lower than the final weights by more than {KEPT_MARGIN}: "
        + (", ".join(worst) or "none")
    )


def seal_line(seal: Seal | None, catalogue: Catalogue, tuning: Sequence[LabelledRun]) -> str:
    """The report's first line: whether what is scored is what the seal pins."""
    if seal is None:
        return "**No sealed choice**: nothing here was chosen by the protocol."
    if not seal.pins:
        return (
            f"**The seal has no pins** (sealed {seal.date} at {seal.commit}): it cannot be checked."
        )
    now = seal_pins(rule_config(), tuning, catalogue.path)
    differ = seal_differences(seal.pins, now)
    if differ:
        return (
            f"**The seal does not hold**: {', '.join(differ)} differ from what the choice "
            f"sealed on {seal.date} at {seal.commit} pins (benchmarks/collapse/choice.json): "
            "these are not the sealed choice's scores."
        )
    return (
        f"Seal: holds (the rule's code, the default rule's settings, the labels, the learned "
        f"model and the tuning runs are those sealed on {seal.date} at {seal.commit})."
    )


def write_report(
    stored: Sequence[RunRecord],
    catalogue: Catalogue,
    out: Path,
    trajectories: Path,
    sealed_splits: Sequence[str] = (),
    choose_now: bool = False,
    sealed: bool = True,
    command: str = "",
    report: Any = print,
) -> str:
    """Label every run; seal a choice if asked; score the sealed choice, each family's
    setting and the baselines on the tuning split, and on the sealed splits asked for
    (holdout, confirm, natural) through a logged look; write everything into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    runs = [r for r in label_runs(stored, catalogue) if r.split is not None]
    tuning = [r for r in runs if r.split == "tune"]
    commit = repository_commit()
    seal_path = SEAL_PATH if sealed else out / "choice.json"
    no_quality_path = NO_QUALITY_SEAL_PATH if sealed else out / NO_QUALITY_SEAL_PATH.name
    if choose_now:
        model = SHIPPED_MODEL if sealed else out / "learned_model.json"
        chosen = choose(tuning, commit, command, catalogue.path, model_path=model, report=report)
        write_seal(chosen, seal_path)
        report(f"sealed in {seal_path}")
        # and apart, the choice among rules that read no quality (for image runs)
        model = SHIPPED_NO_QUALITY_MODEL if sealed else out / SHIPPED_NO_QUALITY_MODEL.name
        cheap = choose(tuning, commit, command, catalogue.path, model, report, NO_QUALITY_FAMILIES)
        write_seal(cheap, no_quality_path)
        report(f"sealed in {no_quality_path}")
    seal = read_seal(seal_path)
    no_quality = read_seal(no_quality_path)
    rules: dict[str, EarlyStopConfig] = {}
    if seal is not None:
        rules[f"sealed choice ({seal.family})"] = seal.rule
    if no_quality is not None:
        rules[f"no-quality choice ({no_quality.family})"] = no_quality.rule
    if seal is not None:
        for family in FAMILIES:
            if family in seal.families:
                rules[f"{family} (sealed setting)"] = family_setting(seal, family)
    rules |= {
        "shipped default": rule_config(),
        "previous default (gradient)": PREVIOUS_DEFAULT,
        "never stop": NEVER_STOP,
        "oracle": ORACLE,
    }
    splits = {"tune": tuning}
    if sealed_splits:
        context = LookContext(
            command, seal.rule if seal else rule_config(), seal_path, trajectories, catalogue.path
        )
        splits |= reveal(runs, sealed_splits, "scores of every rule in the report", context, report)
    shown = [split for split, members in splits.items() if members or split == "tune"]

    header, rows = label_table(runs)
    write_csv(out / "labels.csv", header, rows)
    sections = [
        seal_line(seal, catalogue, tuning),
        "## Labels (every run, every split)",
        markdown_table(header, rows),
    ]
    if seal is None:
        sections.append(
            f"No sealed choice in {seal_path}: run `ganlab-benchmark collapse --choose` to "
            "make one (cross-validation inside the tuning split)."
        )
    score_rows: list[list[str]] = []
    scores: dict[str, dict[str, Score]] = {}
    outcomes: dict[str, list[Outcome]] = {name: [] for name in rules}
    by_split: dict[str, dict[str, list[Outcome]]] = {}
    for split in shown:
        scores[split], by_split[split] = {}, {}
        for name, cfg in rules.items():
            decided = [decide(run, cfg) for run in splits[split]]
            scores[split][name] = score(decided)
            by_split[split][name] = decided
            score_rows.append(score_row(f"{name}: {describe(cfg)}", split, scores[split][name]))
            outcomes[name] += decided
    if seal is not None:
        cv_rows = [
            [
                family,
                f"{data['cv']['caught'][0]}/{data['cv']['caught'][1]}",
                f"{data['cv']['alarms_healthy_recovering'][0]}/{data['cv']['alarms_healthy_recovering'][1]}",
                f"{data['cv']['failing_by_half'][0]}/{data['cv']['failing_by_half'][1]}",
                fmt(data["cv"]["median_regret_fitted"]),
                "**chosen**" if family == seal.family else "",
            ]
            for family, data in seal.families.items()
        ]
        sections += [
            f"## The protocol's choice (sealed {seal.date} at {seal.commit or '?'})",
            "Each family's setting chosen leaving one tuning scenario out at a time, judged "
            "on the scenario left out (pooled over the folds):",
            markdown_table(
                [
                    "family",
                    "caught",
                    "alarms, healthy + recovering",
                    "failing by half",
                    "median regret",
                    "",
                ],
                cv_rows,
            ),
        ]
    write_csv(out / "scores.csv", SCORE_HEADER, score_rows)
    sections += [
        f"## Scores (caught: flagged between the best epoch and onset + {HIT_SLACK} evaluations)",
        "Rates: Wilson 95% interval in [ ], cluster bootstrap over scenarios and their "
        "count in { }.",
        markdown_table(SCORE_HEADER, score_rows),
    ]
    kept_csv: list[list[str]] = []
    default_name = next(iter(rules))
    for split in shown:
        families = sorted({r.family for r in splits[split]})
        stopping = {n: o for n, o in by_split[split].items() if n not in ("never stop", "oracle")}
        header, rows = kept_table(stopping, families)
        kept_csv += [[split, *row[:3], row[-1]] for row in rows]
        ok, why = does_no_harm(by_split[split][default_name])
        sections += [
            f"## Quality kept, {split} runs (fitted runs; every run keeps its best epoch so far)",
            markdown_table(header, rows),
            f"Stopping with {default_name} {'does no harm' if ok else 'does harm'} on "
            f"{split} runs: {why}.",
        ]
    image_rows = []
    for split in shown:
        for name, items in by_split[split].items():
            images = [o for o in items if o.run.family in IMAGE_FAMILIES]
            collapsed = [o for o in images if o.label == COLLAPSED]
            if not collapsed or name in ("never stop", "oracle"):
                continue
            lead = [-o.lag for o in collapsed if o.by_onset and o.lag is not None]
            flagged = rate([(o.run.scenario_key, o.by_onset) for o in collapsed])
            image_rows.append(
                [
                    split,
                    name,
                    flagged.text(),
                    f"{statistics.median(lead):.0f}" if lead else "-",
                    score(images).false_alarm_good.text(),
                ]
            )
    if image_rows:
        sections += [
            "## Image runs: flagged no later than the evaluation whose quality shows the drop",
            markdown_table(
                [
                    "split",
                    "rule",
                    "collapsed image runs flagged by the drop's evaluation",
                    "lead, median evaluations before it",
                    "alarms, healthy + recovering image runs",
                ],
                image_rows,
            ),
        ]
    criteria = {family: catalogue.label_criteria(family) for family in catalogue.families}
    for split in shown:
        header, rows = confusion_rows(phase_confusion(splits[split], rules[default_name]))
        sections += [
            f"## Phase labels against quality, {split} runs ({default_name}; evaluations)",
            markdown_table(header, rows),
        ]
        header, rows = label_counts(splits[split], criteria_of=criteria)
        sections += [
            f"## The labels at other thresholds, {split} runs (drop ratio: 'low' = this x "
            "best; window: of the sustained quality)",
            markdown_table(header, rows),
        ]
    write_csv(
        out / "kept.csv",
        ["split", "what the run keeps", "fitted runs (scenarios)", "median kept", "epochs saved"],
        kept_csv,
    )
    write_csv(out / "runs.csv", RUN_HEADER, run_rows(outcomes))
    figures: dict[str, Figure] = {}
    for split in shown:
        figures[f"scores_{split}.png"] = scores_figure(
            {n: s for n, s in scores[split].items() if n != "oracle"}, split
        )
        if seal is not None and splits[split]:
            curves: dict[str, list[tuple[float, float, float]]] = {}
            marked: dict[str, tuple[float, float]] = {}
            for family in FAMILIES:
                if family in seal.families:
                    setting = family_setting(seal, family)
                    curves[family] = threshold_curve(family, setting, splits[split])
                    s = scores[split][f"{family} (sealed setting)"]
                    marked[family] = (s.hit.value or 0.0, s.false_alarm_good.value or 0.0)
            figures[f"curves_{split}.png"] = curves_figure(curves, marked, split)
    for split in shown:
        figures[f"runs_{split}.png"] = runs_figure(
            [o for o in outcomes[default_name] if o.run.split == split],
            f"{split}: collapsed, partial and never-fitted runs: quality, onset (red), trigger "
            f"of {default_name} (black; dashed = failing)",
        )
    for name, figure in figures.items():
        figure.savefig(out / name)
    text = "\n\n".join(sections)
    (out / "report.md").write_text(text + "\n")
    return text
