"""What each logged channel tells about the phases: the channel table.

For every channel a run logs (the gradient monitors: steepness, D's input gradient at
fakes and reals, the particles' velocity; D's logits, accuracy and confidence; G's
conditioning and the layers' spectral norms; the losses, parameter gradients and update
sizes; and quality itself, as the reference), two questions, each answered with an AUROC
(0.5: the channel says nothing; 1: it separates perfectly; below 0.5: it separates the
other way round) and its 95% interval over scenarios (whole scenarios resampled, since
runs of one scenario go wrong together):

- **collapsing vs refining**: evaluations of collapsed runs from their onset on, against
  refining evaluations (after the run fitted and before any onset, in healthy,
  recovering and collapsed runs);
- **onset within k evaluations** (k = 1, 3, 5): evaluations up to k before a collapse's
  onset, against refining evaluations further from any onset: does the channel see a
  collapse coming?

A channel enters as its run-relative level (ganlab.rules.features: its value against the
median of the run's first five evaluations, in units of their spread; log scale for
magnitudes): runs differ in scale by orders of magnitude, and an online rule can only
compare a run with itself. The AUROC is the Mann-Whitney statistic (ties count half);
tests check it against scikit-learn's.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ganlab.rules.features import FeatureSpec, run_features
from ganlab.rules.run_quality import bounded_quality
from ganlab.study.clusters import SEED
from ganlab.study.labels import COLLAPSED, HEALTHY, PARTIAL, RECOVERING
from ganlab.study.scoring import LabelledRun

# (key, transform, what it is): derived keys (spectral maxima) are added per evaluation
CHANNELS: tuple[tuple[str, str, str], ...] = (
    ("monitor/steepness_mean", "log", "steepness, mean over latents"),
    ("monitor/steepness_p90", "log", "steepness, p90"),
    ("monitor/dgrad_fake_mean", "log", "D's input gradient at fakes, mean"),
    ("monitor/dgrad_fake_p90", "log", "D's input gradient at fakes, p90"),
    ("monitor/dgrad_real_mean", "log", "D's input gradient at reals, mean"),
    ("monitor/dgrad_real_p90", "log", "D's input gradient at reals, p90"),
    ("monitor/velocity_mean", "log", "particle velocity, mean"),
    ("monitor/velocity_p90", "log", "particle velocity, p90"),
    ("train/d_logit_abs_max", "log", "D's largest |logit| in the epoch"),
    ("train/d_logit_abs_mean", "log", "D's mean |logit|"),
    ("monitor/d_acc", "raw", "D's balanced accuracy"),
    ("monitor/d_sign_real", "raw", "D's confidence on reals (ADA's r_t)"),
    ("monitor/g_condition_mean", "log", "G's Jacobian conditioning, mean"),
    ("spectral/g_max", "log", "G's largest layer spectral norm"),
    ("spectral/d_max", "log", "D's largest layer spectral norm"),
    ("train/loss_d", "raw", "D's loss"),
    ("train/loss_g", "raw", "G's loss"),
    ("monitor/grad_norm_d_mean", "log", "D's parameter-gradient norm"),
    ("monitor/grad_norm_g_mean", "log", "G's parameter-gradient norm"),
    ("train/d_update_rel", "log", "D's update size (relative)"),
    ("train/g_update_rel", "log", "G's update size (relative)"),
    ("quality/bounded", "raw", "quality (the reference: what the labels read)"),
)
GRADIENT_MONITORS = {key for key, _, _ in CHANNELS if "steepness" in key or "dgrad" in key}
GRADIENT_MONITORS |= {"monitor/velocity_mean", "monitor/velocity_p90"}
LEADS = (1, 3, 5)
TARGETS = ("collapsing", *(f"onset within {k}" for k in LEADS))
FITTED = (HEALTHY, RECOVERING, COLLAPSED, PARTIAL)


def with_derived(history: Sequence[tuple[int, Mapping[str, float]]]) -> list:
    """The history with each network's largest layer spectral norm as one key, and the
    quality the labels read (hq x coverage on mixtures, class quality on images)."""
    q_epochs, q_values = bounded_quality(history)
    quality = dict(zip(q_epochs, q_values, strict=True))
    out = []
    for epoch, metrics in history:
        extra = {}
        for net in ("g", "d"):
            norms = [v for k, v in metrics.items() if k.startswith(f"monitor/spectral/{net}/")]
            if norms:
                extra[f"spectral/{net}_max"] = max(norms)
        if epoch in quality:
            extra["quality/bounded"] = quality[epoch]
        out.append((epoch, {**metrics, **extra}))
    return out


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a fitted run: its channels' levels, and what it was."""

    scenario: str
    levels: tuple[float | None, ...]  # per channel; None where the run never logged it
    collapsing: bool | None  # True: at or after onset; False: refining; None: neither
    to_onset: int | None  # evaluations until the collapse's onset (collapsed runs)


def evaluations(runs: Sequence[LabelledRun]) -> list[Evaluation]:
    """Every evaluation after a fitted run's fit epoch (partial runs excluded: their
    onset is of modes, not quality)."""
    spec = FeatureSpec(channels=tuple((k, how) for k, how, _ in CHANNELS))
    out = []
    for run in runs:
        label = run.label
        if label.label not in (HEALTHY, RECOVERING, COLLAPSED) or label.fit_epoch is None:
            continue
        history = with_derived(run.history)
        logged = {k for _, m in history for k in m}
        epochs, rows = run_features(history, spec)
        onset = label.onset_epoch if label.label == COLLAPSED else None
        onset_index = epochs.index(onset) if onset in epochs else None
        for i, (epoch, row) in enumerate(zip(epochs, rows, strict=True)):
            if epoch < label.fit_epoch:
                continue
            levels = tuple(
                row[3 * c] if key in logged else None for c, (key, _, _) in enumerate(CHANNELS)
            )
            collapsing = onset_index is not None and i >= onset_index
            out.append(
                Evaluation(
                    run.scenario_key,
                    levels,
                    collapsing,
                    None if onset_index is None else onset_index - i,
                )
            )
    return out


def target_of(e: Evaluation, target: str) -> bool | None:
    """Positive, negative or not part of the question (None)."""
    if target == "collapsing":
        return e.collapsing
    k = int(target.rsplit(" ", 1)[1])
    if e.collapsing:
        return None  # already collapsing: not a question of foresight
    return e.to_onset is not None and 1 <= e.to_onset <= k


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUROC: P(score of a positive > score of a negative), ties half."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _ranks(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=float)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    return ranks


@dataclass(frozen=True)
class Cell:
    """One channel's answer to one question."""

    value: float
    low: float | None
    high: float | None
    positives: int
    negatives: int
    scenarios: int  # scenarios the evaluations come from

    def text(self) -> str:
        if math.isnan(self.value):
            return "-"
        bounds = "" if self.low is None else f" [{self.low:.2f}, {self.high:.2f}]"
        return f"{self.value:.2f}{bounds}"

    @property
    def verdict(self) -> str:
        """'higher' / 'lower' when the interval excludes 0.5, else 'no sign'."""
        if self.low is not None and self.low > 0.5:
            return "higher"
        if self.high is not None and self.high < 0.5:
            return "lower"
        return "no sign"


def cell(evals: Sequence[Evaluation], channel: int, target: str, resamples: int = 1000) -> Cell:
    """AUROC of `channel` for `target`, with its cluster-bootstrap interval."""
    rows = [
        (e.scenario, e.levels[channel], flag)
        for e in evals
        if (flag := target_of(e, target)) is not None and e.levels[channel] is not None
    ]
    if not rows:
        return Cell(math.nan, None, None, 0, 0, 0)
    scenarios = sorted({s for s, _, _ in rows})
    index = {s: i for i, s in enumerate(scenarios)}
    group = np.array([index[s] for s, _, _ in rows])
    scores = np.array([v for _, v, _ in rows], dtype=float)
    positive = np.array([f for _, _, f in rows], dtype=bool)
    value = auroc(scores, positive)
    members = [np.flatnonzero(group == g) for g in range(len(scenarios))]
    rng = np.random.default_rng(SEED)
    draws = []
    # an interval over scenarios needs positives in at least two of them: resampling one
    # scenario's positives says nothing about the next scenario's
    with_positives = len({g for g, p in zip(group, positive, strict=True) if p})
    if len(scenarios) >= 2 and with_positives >= 2:
        for _ in range(resamples):
            chosen = np.concatenate(
                [members[g] for g in rng.integers(0, len(scenarios), len(scenarios))]
            )
            a = auroc(scores[chosen], positive[chosen])
            if not math.isnan(a):
                draws.append(a)
    low, high = (float(q) for q in np.quantile(draws, [0.025, 0.975])) if draws else (None, None)
    return Cell(value, low, high, int(positive.sum()), int((~positive).sum()), len(scenarios))


def channel_table(runs: Sequence[LabelledRun], resamples: int = 1000) -> dict[str, list[Cell]]:
    """{channel key: [a Cell per target in TARGETS]}."""
    evals = evaluations(runs)
    return {
        key: [cell(evals, c, target, resamples) for target in TARGETS]
        for c, (key, _, _) in enumerate(CHANNELS)
    }


def table_rows(table: Mapping[str, Sequence[Cell]]) -> tuple[list[str], list[list[str]]]:
    header = ["channel", "what it is", *(f"AUROC, {t}" for t in TARGETS), "positives / negatives"]
    names = {key: what for key, _, what in CHANNELS}
    rows = []
    for key, cells in table.items():
        counts = " · ".join(f"{c.positives}/{c.negatives}" for c in cells)
        rows.append([f"`{key}`", names[key], *(c.text() for c in cells), counts])
    return header, rows


def table_figure(table: Mapping[str, Sequence[Cell]], title: str) -> Figure:
    """Channel x question heat map of the AUROC (0.5 white; red: higher before or during
    collapse; blue: lower), each cell's value written in, '*' where the interval over
    scenarios excludes 0.5."""
    keys = list(table)
    values = np.array([[c.value for c in table[k]] for k in keys], dtype=float)
    fig = Figure(figsize=(7.6, 0.32 * len(keys) + 1.6), dpi=100)
    ax = fig.subplots()
    image = ax.imshow(np.nan_to_num(values, nan=0.5), cmap="RdBu_r", vmin=0, vmax=1, aspect="auto")
    for i, key in enumerate(keys):
        for j, c in enumerate(table[key]):
            if not math.isnan(c.value):
                mark = "*" if c.verdict != "no sign" else ""
                ax.text(j, i, f"{c.value:.2f}{mark}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(TARGETS)), TARGETS, fontsize=8)
    shown = [k.removeprefix("monitor/").removeprefix("train/") for k in keys]
    ax.set_yticks(range(len(keys)), shown, fontsize=7)
    fig.colorbar(
        image, ax=ax, fraction=0.04, label="AUROC (* interval over scenarios excludes 0.5)"
    )
    ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0.22, right=0.9, top=0.93, bottom=0.06)
    return fig


# -- the seeds' claims, each read off the table ------------------------------------------
@dataclass(frozen=True)
class Claim:
    source: str
    statement: str
    channel: str
    target: str
    expected: str  # "higher" or "lower"


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "three-phase paper (seed 000)",
        "steepness rises as training collapses",
        "monitor/steepness_p90",
        "collapsing",
        "higher",
    ),
    Claim(
        "three-phase paper (seed 000)",
        "D's gradient at the fakes escalates in the collapsing phase",
        "monitor/dgrad_fake_p90",
        "collapsing",
        "higher",
    ),
    Claim(
        "three-phase paper (seed 000)",
        "the particles' velocity rises with it",
        "monitor/velocity_p90",
        "collapsing",
        "higher",
    ),
    Claim(
        "PGGAN (seed 001)",
        "D overshoots before G collapses: its logits escalate ahead of the onset",
        "train/d_logit_abs_max",
        "onset within 3",
        "higher",
    ),
    Claim(
        "PGGAN (seed 001)",
        "signal magnitudes escalate in both networks ahead of the onset (G's gradient)",
        "monitor/grad_norm_g_mean",
        "onset within 3",
        "higher",
    ),
    Claim(
        "three-phase paper (seed 000)",
        "steepness warns ahead of the onset",
        "monitor/steepness_p90",
        "onset within 3",
        "higher",
    ),
)


def claim_rows(table: Mapping[str, Sequence[Cell]]) -> tuple[list[str], list[list[str]]]:
    header = ["source", "claim", "channel, question", "AUROC [95% over scenarios]", "verdict"]
    rows = []
    for claim in CLAIMS:
        c = table[claim.channel][TARGETS.index(claim.target)]
        if math.isnan(c.value):
            verdict = "not measurable here"
        elif c.low is None:
            verdict = "too few scenarios to tell (collapses in one scenario only)"
        elif c.verdict == claim.expected:
            verdict = "**supported**"
        elif c.verdict == "no sign":
            verdict = "not shown (the interval holds 0.5)"
        else:
            verdict = "**contradicted** (the other way round)"
        rows.append(
            [claim.source, claim.statement, f"`{claim.channel}`, {claim.target}", c.text(), verdict]
        )
    return header, rows


def strongest(
    table: Mapping[str, Sequence[Cell]], target: str, keys: set[str] | None = None
) -> tuple[str, Cell]:
    """The channel (among `keys`) that separates best for `target`, either way."""
    j = TARGETS.index(target)
    candidates = [(k, cells[j]) for k, cells in table.items() if keys is None or k in keys]
    candidates = [(k, c) for k, c in candidates if not math.isnan(c.value)]
    return max(candidates, key=lambda kc: abs(kc[1].value - 0.5))


def median_or_nan(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


IMAGE_FAMILIES = ("digits", "natural_digits")


def write_channels(
    runs: Sequence[LabelledRun], out: Any, splits: Sequence[str], resamples: int = 1000
) -> str:
    """The channel table, claims and figure per split and data kind (mixtures, digits):
    `channels_<split>_<kind>.csv` and `.png` in `out`; the Markdown text. `runs` holds
    only splits the caller may score (held-out ones through a logged look)."""
    from ganlab.study.tables import markdown_table, write_csv

    sections = []
    for split in splits:
        for kind in ("mixtures", "digits"):
            mine = [
                r
                for r in runs
                if r.split == split and (r.family in IMAGE_FAMILIES) == (kind == "digits")
            ]
            if not any(r.label.label == COLLAPSED for r in mine):
                continue
            table = channel_table(mine, resamples)
            header, rows = table_rows(table)
            write_csv(out / f"channels_{split}_{kind}.csv", header, rows)
            title = (
                f"{split} runs, {kind} ({len(mine)} runs, "
                f"{len({r.scenario_key for r in mine})} scenarios): AUROC per channel"
            )
            table_figure(table, title).savefig(out / f"channels_{split}_{kind}.png")
            claim_header, claims = claim_rows(table)
            sections += [
                f"## What the channels tell: {title}",
                markdown_table(header, rows),
                "The seeds' claims, read off this table:",
                markdown_table(claim_header, claims),
            ]
    return "\n\n".join(sections)
