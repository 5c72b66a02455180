"""`early_stop.*`: what every stopping rule shares; each rule owns the rest.

A rule is chosen with its config group, `early_stop=gradient`, which brings that rule's own
dataclass (declared beside the rule, in ganlab/rules/library/<name>.py, and stored with
Hydra by `ganlab.config.register`): a run logs, and `--help` and docs/configuration.md
list, only the settings of the rule it uses. Every number is a value here, so any setting
can be replayed on stored runs (ganlab-replay, ganlab-benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option
from ganlab.registry import RULES

# The default rule: the one the collapse benchmark's sealed protocol chose (docs/collapse.md)
DEFAULT_RULE = "combined"


@dataclass
class RewindConfig:
    """`early_stop.action=rewind`: at a collapse trigger, go back to the best weights seen
    so far (by the run's quality as known at that epoch), scale both learning rates by
    `lr_scale` and go on; at most `max` times, after which triggers are only recorded."""

    lr_scale: float = option(
        0.5, "both learning rates are multiplied by this at each rewind", gt=0, le=1
    )
    max: int = option(2, "rewinds at most; later triggers are only recorded", ge=1)

    def __post_init__(self) -> None:
        check_fields(self, "early_stop.rewind")


@dataclass
class EarlyStopConfig:
    """Phase labels and the stopping rule: the settings every rule shares."""

    rule: str = option(
        DEFAULT_RULE,
        "the stopping rule; choose it with its group, `early_stop=<rule>`, which brings the "
        "rule's own settings",
        choices=RULES.names,
    )
    action: str = option(
        "record",
        "`stop` ends training at the trigger, the run's result being its best epoch so "
        "far (checkpoints/best.pt); `record` only logs the decision and keeps training; "
        "`rewind` restores the best weights so far, lowers both learning rates and goes on "
        "(`rewind.*`). Every run keeps its best epoch's weights, whatever the action. The "
        "default records: on the collapse benchmark's held-out runs a stop at the default "
        "rule's trigger kept less than keeping the best without stopping (docs/collapse.md)",
        choices=("stop", "record", "rewind"),
    )
    warmup_epochs: int = option(5, "evaluations before anything is scored", ge=0)
    ema: float = option(0.5, "smoothing weight of the newest value (1 = none)", gt=0, le=1)
    patience: int = option(1, "consecutive evaluations over the threshold that trigger", ge=1)
    window: int = option(
        3, "evaluations for the plateau test and the rules' recent references", ge=1
    )
    plateau_tol: float = option(
        0.05, "fitting ends when steepness p90 grows less than this (relative)", ge=0
    )
    rewind: RewindConfig = option(doc="action=rewind", factory=RewindConfig)

    def __post_init__(self) -> None:
        check_fields(self, "early_stop")
