"""The verdict on one stored run: what a rule makes of its history, and what that is worth.

One model for every place that judges a finished run: `ganlab-compare` (each run under
its own logged rule), `ganlab-replay` (any rule, any setting), the sweep summary, the
phase figures and the collapse benchmark. A `Verdict` holds the rule's timeline (phase
per evaluation, trigger, stop, cause) and reads quality off the history at the stop, at
the best epoch (the oracle) and at the end.

Whatever the action, a run keeps the weights of its best epoch by the quality it knows
online (ganlab.training.best). A stop at the trigger therefore keeps the best epoch up to
the trigger (`kept_epoch`); a run the rule never stops keeps the best of the whole run,
as does a run that only records. Regret = quality at the best epoch of the whole run -
quality at the kept epoch: what stopping cost against never stopping while keeping the
best weights. Epochs saved = last epoch - trigger epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

from omegaconf import OmegaConf

from ganlab.config import DEFAULT_RULE, EarlyStopConfig, rule_config_class
from ganlab.rules import (
    COLLAPSING,
    REFINING,
    History,
    Timeline,
    apply_rule,
    quality_series,
)

QualityOf = Callable[[History], tuple[list[int], list[float]]]


@dataclass(frozen=True)
class Verdict:
    """A rule's reading of one history, with the quality at the epochs that matter."""

    timeline: Timeline
    epochs: tuple[int, ...]  # evaluated epochs (quality logged), ascending
    quality: tuple[float, ...]  # higher is better

    @property
    def trigger_epoch(self) -> int | None:
        return self.timeline.trigger_epoch

    @property
    def cause(self) -> str | None:
        return self.timeline.cause

    @property
    def failing_epoch(self) -> int | None:
        return self.timeline.failing_epoch

    @property
    def last_epoch(self) -> int:
        return self.epochs[-1]

    @property
    def kept_epoch(self) -> int:
        """The weights a stop at the trigger keeps: the earliest epoch of best quality up
        to the trigger (the whole run when the rule never fires), as known online."""
        end = self.trigger_epoch if self.trigger_epoch is not None else self.last_epoch
        return best_epoch(self.epochs, self.quality, end)

    @property
    def oracle_epoch(self) -> int:
        """The earliest epoch of best quality over the whole run."""
        return best_epoch(self.epochs, self.quality, self.last_epoch)

    def quality_at(self, epoch: int) -> float:
        """Quality at the latest evaluated epoch at or before `epoch`."""
        index = max((i for i, e in enumerate(self.epochs) if e <= epoch), default=0)
        return self.quality[index]

    @property
    def quality_kept(self) -> float:
        """Quality of the weights a stop at the trigger keeps."""
        return self.quality_at(self.kept_epoch)

    @property
    def quality_at_oracle(self) -> float:
        return max(self.quality)

    @property
    def final_quality(self) -> float:
        return self.quality[-1]

    @property
    def regret(self) -> float:
        return self.quality_at_oracle - self.quality_kept

    @property
    def epochs_saved(self) -> int:
        return 0 if self.trigger_epoch is None else self.last_epoch - self.trigger_epoch


def best_epoch(epochs: Sequence[int], quality: Sequence[float], end: int) -> int:
    """The earliest evaluated epoch of highest quality at or before `end` (the first
    evaluation when none is that early)."""
    candidates = [i for i, e in enumerate(epochs) if e <= end] or [0]
    return epochs[max(candidates, key=lambda i: (quality[i], -i))]


def verdict(
    history: History, cfg: EarlyStopConfig, quality_of: QualityOf = quality_series
) -> Verdict | None:
    """`cfg`'s verdict on a history; None when the run logged no quality."""
    epochs, quality = quality_of(history)
    if not epochs:
        return None
    return Verdict(apply_rule(history, cfg), tuple(epochs), tuple(quality))


def rule_of(params: Mapping[str, str]) -> EarlyStopConfig:
    """The early-stop settings a run logged as params (the rule's defaults for missing
    ones), so a stored run is judged by the rule it trained with. Runs logged before each
    rule had its own settings logged every rule's: those of other rules are ignored."""
    rule = params.get("early_stop.rule", DEFAULT_RULE)
    cls = rule_config_class(rule)
    names = {f.name for f in fields(cls)} - {"rule"}
    dotlist = [
        f"{k.removeprefix('early_stop.')}={v}"
        for k, v in params.items()
        if k.startswith("early_stop.") and k.removeprefix("early_stop.").split(".")[0] in names
    ]
    merged = OmegaConf.merge(OmegaConf.structured(cls(rule=rule)), OmegaConf.from_dotlist(dotlist))
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def describe(
    history: History,
    cfg: EarlyStopConfig,
    timeline: Timeline,
    kept: tuple[int, float] | None = None,
    stopped: bool = False,
) -> str:
    """A run's verdict in a few Markdown lines, for its MLflow description: when each
    phase began, what the rule decided, which epoch's weights the run keeps (`kept`: its
    epoch and quality, checkpoints/best.pt) and quality at the best and last epochs.

    Quality here is the bounded one (hq_fraction x modes_covered / n_modes on mixtures,
    the classifier's class_quality on images), or minus FID when only FID was logged."""
    from ganlab.rules import FAILING
    from ganlab.rules.run_quality import bounded_quality

    lines = [f"**ganlab verdict** (rule `{cfg.rule}`, action `{cfg.action}`)", ""]
    epochs, quality = bounded_quality(history)
    mixture = any("quality/hq_fraction" in m for _, m in history)
    name = "hq_fraction x modes_covered / n_modes" if mixture else "class_quality"
    if not epochs:
        epochs, quality = quality_series(history)
        name = "minus FID"
    judged = Verdict(timeline, tuple(epochs), tuple(quality)) if epochs else None
    onsets = [
        f"{label} from epoch {epoch}"
        for label, epoch in (
            ("refining", _first(timeline, {REFINING, COLLAPSING})),
            ("collapsing", _first(timeline, {COLLAPSING})),
            ("failing", _first(timeline, {FAILING})),
        )
        if epoch is not None
    ]
    lines.append("- phases: fitting from epoch 0" + "".join(f", {o}" for o in onsets))
    if timeline.trigger_epoch is not None:
        cause = "never fitted" if timeline.cause == "failing" else str(timeline.cause)
        then = "the run stopped there" if stopped else "training went on"
        lines.append(f"- the rule fired at epoch {timeline.trigger_epoch} ({cause}); {then}")
    else:
        lines.append("- the rule did not fire")
    if kept is not None:
        lines.append(
            f"- the run keeps the weights of epoch {kept[0]} (quality {kept[1]:.3f}), its "
            "best so far when it ended: `checkpoints/best.pt`"
        )
    if judged is None:
        lines.append("- no quality was logged (monitors off): the run keeps its last weights")
    else:
        lines.append(
            f"- quality ({name}): best {judged.quality_at_oracle:.3f} at epoch "
            f"{judged.oracle_epoch}, final {judged.final_quality:.3f} at epoch {judged.last_epoch}"
        )
    return "\n".join(lines)


def _first(timeline: Timeline, phases: set[int]) -> int | None:
    return next(
        (e for e, p in zip(timeline.epochs, timeline.phases, strict=True) if p in phases), None
    )
