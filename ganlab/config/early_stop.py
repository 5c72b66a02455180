"""`early_stop.*`: phase labels and the stopping rule (docs/method.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option
from ganlab.registry import RULES


@dataclass
class EarlyStopConfig:
    """Phase labels and the stopping rule; every number is a value here, so any setting
    can be replayed on stored runs (ganlab-replay, ganlab-benchmark)."""

    # Defaults: the combined rule's setting chosen on the collapse benchmark's tuning
    # split, and better than the previous default (`gradient`) on its held-out runs
    # (docs/collapse.md has the numbers, and what it still misses).
    rule: str = option("combined", "the stopping rule", choices=RULES.names)
    action: str = option(
        "stop",
        "`stop` ends training at the trigger (keeping the stop epoch's weights); `record` "
        "only logs the decision and keeps training",
        choices=("stop", "record"),
    )
    warmup_epochs: int = option(5, "evaluations before anything is scored", ge=0)
    score_from: str = option(
        "warmup",
        "`warmup`: score after the warm-up; `plateau`: also not before fitting has ended "
        "(D's gradient grows a lot while D learns)",
        choices=("warmup", "plateau"),
    )
    reference: str = option(
        "recent",
        "gradient rule, what a value is compared with: `recent` the median of the previous "
        "`window` evaluations (a spike detector); `running` the running minimum (D "
        "gradient) / maximum (steepness) since scoring began",
        choices=("running", "recent"),
    )
    ema: float = option(0.5, "smoothing weight of the newest value (1 = none)", gt=0, le=1)
    beta: float = option(0.0, "gradient rule: weight of the steepness term in the score", ge=0)
    tau: float = option(
        2.0,
        "gradient rule: score threshold, a log ratio (2: the smoothed D gradient 7.4x its "
        "reference)",
        ge=0,
    )
    patience: int = option(1, "consecutive evaluations over the threshold that trigger", ge=1)
    window: int = option(
        3, "evaluations for the plateau test, the `recent` reference and the stop search", ge=1
    )
    plateau_tol: float = option(
        0.05, "fitting ends when steepness p90 grows less than this (relative)", ge=0
    )
    dg_tol: float = option(8.0, "duality_gap rule: relative rise above its minimum", ge=0)
    # -- combined rule (ganlab.rules.detectors; docs/collapse.md): a collapse channel fires when
    # its statistic reaches its threshold (0 turns it off); score = the largest
    # statistic / threshold, so the rule triggers at score >= 1
    drift: float = option(
        0.3, "combined: CUSUM drift per evaluation, log units (slower trends never add)", ge=0
    )
    shift_window: int = option(
        3, "combined: CUSUM reference, the median of this many previous evaluations", ge=1
    )
    shift_up: float = option(
        0.0, "combined: CUSUM threshold on rises of log D-gradient (p90) at fakes; 0 = off", ge=0
    )
    shift_down: float = option(
        0.0, "combined: CUSUM threshold on falls of log D-gradient; 0 = off", ge=0
    )
    escalation: float = option(
        3.4,
        "combined: threshold on how far log D-logit magnitude (step-level max) rises above "
        "its recent median; 0 = off",
        ge=0,
    )
    quality_drop: float = option(
        0.0,
        "combined: fires when the median quality of the last `window` evaluations has "
        "fallen by this share of the best such median so far (hq x coverage on mixtures, "
        "class quality on images; it needs the quality monitor); 0 = off",
        ge=0,
        le=1,
    )
    quality_floor: float = option(
        0.25,
        "combined: the quality channel watches only once sustained quality has reached this "
        "(falls while still fitting are noise, not collapse)",
        ge=0,
        le=1,
    )
    frozen_tol: float = option(
        1e-4, "combined: G's relative parameter change per epoch below this = frozen", ge=0
    )
    dominance: float = option(
        0.75, "combined: D's balanced accuracy at or above this = dominant; 1 = off", ge=0.5, le=1
    )
    fail_patience: int = option(
        10, "combined: evaluations G frozen or D dominant that mark a run failing", ge=1
    )

    def __post_init__(self) -> None:
        check_fields(self, "early_stop")
