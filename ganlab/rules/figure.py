"""The phase figure: gradient curves over epochs with phases shaded and stops marked.

One picture per run answers the questions people ask of a GAN run: when did fitting
end, when did it start to collapse, where did the rule stop, and what was the quality
there. Logged as `phases.png` at the end of every run and drawn by `ganlab-replay`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ganlab.config import EarlyStopConfig
from ganlab.rules import (
    COLLAPSING,
    D_ACC_KEY,
    DGRAD_KEY,
    FAILING,
    G_UPDATE_KEY,
    PHASE_NAMES,
    REFINING,
    STEEPNESS_MAX_KEY,
    STEEPNESS_P90_KEY,
    History,
    Timeline,
    apply_rule,
    fid_key,
    n_modes_of,
    quality_series,
)
from ganlab.rules.stopper import REWIND_KEY, rewound
from ganlab.rules.verdict import Verdict

PHASE_COLORS = {REFINING: "#cfe3f7", COLLAPSING: "#f7d4cf", FAILING: "#e3e3e3"}


def _curve(history: History, key: str) -> tuple[list[int], list[float]]:
    points = [(e, m[key]) for e, m in history if key in m]
    return [e for e, _ in points], [v for _, v in points]


def _shade(ax, timeline: Timeline, last_epoch: int) -> None:
    """Shade refining and collapsing spans (fitting stays white)."""
    spans: list[tuple[int, int, int]] = []  # (phase, start, end)
    for epoch, phase in zip(timeline.epochs, timeline.phases, strict=True):
        if spans and spans[-1][0] == phase:
            spans[-1] = (phase, spans[-1][1], epoch)
        else:
            if spans:
                spans[-1] = (spans[-1][0], spans[-1][1], epoch)
            spans.append((phase, epoch, epoch))
    if spans:
        spans[-1] = (spans[-1][0], spans[-1][1], last_epoch)
    for phase, start, end in spans:
        if phase in PHASE_COLORS:
            ax.axvspan(start, end, color=PHASE_COLORS[phase], lw=0, zorder=0)


def _mark(ax, epoch: int | None, style: str, color: str) -> None:
    if epoch is not None:
        ax.axvline(epoch, ls=style, color=color, lw=1.2, zorder=3)


def phase_figure(
    history: History,
    timeline: Timeline,
    title: str,
    oracle_epoch: int | None = None,
    extra_curves: Mapping[str, str] | None = None,
    kept_epoch: int | None = None,
) -> Figure:
    """Stacked panels sharing the epoch axis: quality (quality/score, what verdicts and the
    benchmark's labels read) first, then steepness, D gradient, and D's accuracy with G's
    parameter movement when those were logged (the failing signals)."""
    confidence = any(D_ACC_KEY in m for _, m in history)
    fig = Figure(figsize=(8, 9.5 if confidence else 7.5), dpi=100)
    axes = fig.subplots(4 if confidence else 3, 1, sharex=True)
    last_epoch = max((e for e, _ in history), default=1)
    panels: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (
        ("generator steepness", ((STEEPNESS_P90_KEY, "p90"), (STEEPNESS_MAX_KEY, "max"))),
        ("D gradient at fakes", ((DGRAD_KEY, "p90"), *(extra_curves or {}).items())),
    )
    for ax, (label, curves) in zip(axes[1:3], panels, strict=True):
        for key, name in curves:
            epochs, values = _curve(history, key)
            if epochs:
                ax.plot(epochs, values, label=name, lw=1.4)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)

    q_epochs, quality = quality_series(history)
    ax = axes[0]
    image_key = None if any("quality/hq_fraction" in m for _, m in history) else fid_key(history)
    if image_key is not None:  # images: FID, lower is better
        ax.plot(q_epochs, [-q for q in quality], color="tab:green", lw=1.4, label=image_key)
        ax.set_yscale("log")
        ax.set_ylabel("FID")
    else:
        if q_epochs:
            ax.plot(q_epochs, quality, color="tab:green", lw=1.4, label="quality/score")
            covered_epochs, covered = _curve(history, "quality/modes_covered")
            n_modes = n_modes_of(history)
            ax.plot(
                covered_epochs,
                [c / n_modes for c in covered],
                color="tab:gray",
                lw=1,
                ls="--",
                label=f"modes covered / {n_modes}",
            )
        else:  # no quality monitor (monitor=none, or data without modes or classes)
            ax.text(0.5, 0.5, "no quality measured", ha="center", va="center",
                    transform=ax.transAxes, color="tab:gray")  # fmt: skip
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("quality")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8)
    if confidence:
        _confidence_panel(axes[3], history)
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole

    rewinds = [(e, int(m[REWIND_KEY])) for e, m in history if REWIND_KEY in m]
    for ax in axes:
        _shade(ax, timeline, last_epoch)
        _mark(ax, kept_epoch, "--", "black")
        _mark(ax, timeline.trigger_epoch, ":", "tab:red")
        _mark(ax, oracle_epoch, "-.", "tab:green")
        for at, back in rewinds:  # early_stop.action=rewind: where the run went back
            ax.axvline(at, color="tab:purple", lw=1.5, zorder=3)
            ax.axvspan(back, at, color="tab:purple", alpha=0.08, lw=0, zorder=1)
        ax.grid(alpha=0.3)
    for at, back in rewinds:
        axes[1].annotate(
            f"rewind to {back}",
            (at, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="tab:purple",
            ha="right",
            va="top",
            rotation=90,
        )
    legend = (
        f"shaded: {PHASE_NAMES[REFINING]} (blue), {PHASE_NAMES[COLLAPSING]} (red), "
        f"{PHASE_NAMES[FAILING]} (grey)\n"
        "-- weights kept at a stop (best so far),  : trigger,  -. best quality (oracle)"
        + (",  purple: rewind (the span undone)" if rewinds else "")
    )
    fig.suptitle(f"{title}\n{legend}", fontsize=9)
    # fixed margins for this fixed-size figure: tight_layout cost 0.1-0.4 s a figure
    fig.subplots_adjust(left=0.1, right=0.9, bottom=0.06, top=0.91, hspace=0.08)
    return fig


def _confidence_panel(ax, history: History) -> None:
    """D's balanced accuracy on held-out reals vs fakes (left) and how far G's
    parameters moved per epoch (right, log): a dominant D or a frozen G is failing."""
    epochs, accuracy = _curve(history, D_ACC_KEY)
    ax.plot(epochs, accuracy, color="tab:purple", lw=1.4, label="D accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.set_ylabel("D accuracy")
    ax.legend(loc="upper left", fontsize=8)
    update_epochs, update = _curve(history, G_UPDATE_KEY)
    if update_epochs:
        right = ax.twinx()
        right.plot(update_epochs, [max(u, 1e-12) for u in update], color="tab:brown", lw=1, ls="--")
        right.set_yscale("log")
        right.set_ylabel("G moved (rel.)", color="tab:brown")


def has_curves(history: History) -> bool:
    """Whether a phase figure of `history` would show anything (monitors may be off)."""
    plotted = (STEEPNESS_P90_KEY, STEEPNESS_MAX_KEY, DGRAD_KEY)
    return any(key in m for _, m in history for key in plotted) or bool(quality_series(history)[0])


def rule_figure(history: History, cfg: EarlyStopConfig, title: str) -> Figure:
    """The phase figure of a history as `cfg`'s rule reads it, with the oracle epoch."""
    timeline = apply_rule(rewound(history), cfg)  # as the rule read a run that rewound
    final = PHASE_NAMES[timeline.phase_at(history[-1][0])] if history else "-"
    epochs, quality = quality_series(history)
    judged = Verdict(timeline, tuple(epochs), tuple(quality)) if epochs else None
    return phase_figure(
        history,
        timeline,
        f"{title}: rule {cfg.rule}, final phase {final}",
        judged.oracle_epoch if judged else None,
        kept_epoch=judged.kept_epoch if judged and timeline.trigger_epoch is not None else None,
    )
