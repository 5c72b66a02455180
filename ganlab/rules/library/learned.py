"""The learned rule: a linear model of every logged channel, fitted on labelled runs.

Features (ganlab.rules.features): each channel against the run's own early history, over
a trailing window, and the run's quality. The model (standardisation, weights, bias, and
the feature spec it was fitted with) is a small JSON file read without unpickling
anything; the one that ships was fitted by the collapse benchmark's protocol on its
tuning split only (`ganlab-benchmark collapse --choose`; docs/collapse.md). The failing
channels are the combined rule's (ganlab.rules.failing).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlab.config.fields import option
from ganlab.core.errors import ConfigError
from ganlab.rules.failing import FAILING_KEYS, FailingChannelsConfig, mark_failing
from ganlab.rules.features import CHANNELS, FeatureSpec, logistic, run_features
from ganlab.rules.library.combined import QUALITY_KEYS
from ganlab.rules.rule import register_rule
from ganlab.rules.timeline import (
    STEEPNESS_P90_KEY,
    History,
    Timeline,
    ema,
    finish,
    optional_series,
    plateau_phases,
)

MODEL_FORMAT = "ganlab-learned-rule/1"
SHIPPED_MODEL = Path(__file__).with_name("learned_model.json")
# the model of the cheap channels only (no quality features), for image runs whose quality
# is measured every few epochs at a price: early_stop.model=no_quality
NO_QUALITY = "no_quality"
SHIPPED_NO_QUALITY_MODEL = Path(__file__).with_name("learned_model_no_quality.json")


@dataclass
class LearnedRuleConfig(FailingChannelsConfig):
    threshold: float = option(
        0.5,
        "the model's probability of 'collapsing' at which the rule fires",
        gt=0,
        lt=1,
    )
    model: str = option(
        "",
        "a model file (JSON) fitted by `ganlab-benchmark collapse --choose`; empty = the "
        "one that ships (fitted on the benchmark's tuning split); `no_quality` = the one "
        "that ships fitted on the cheap channels only (no quality features: for image runs)",
    )


@functools.lru_cache(maxsize=8)
def load_model(path: str) -> dict[str, Any]:
    """A learned-rule model: JSON only, checked for its format and shapes."""
    file = SHIPPED_NO_QUALITY_MODEL if path == NO_QUALITY else Path(path) if path else SHIPPED_MODEL
    try:
        model = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"early_stop.model={path or file}: cannot read a learned-rule model there ({exc}); "
            "give the JSON file `ganlab-benchmark collapse --choose` wrote."
        ) from exc
    n = len(model.get("feature_names", []))
    if model.get("format") != MODEL_FORMAT or not all(
        len(model.get(k, [])) == n for k in ("mean", "scale", "weights")
    ):
        raise ConfigError(f"{file} is not a {MODEL_FORMAT} model with matching shapes.")
    checked: dict[str, Any] = model
    return checked


def spec_of(model: dict[str, Any]) -> FeatureSpec:
    spec = model["spec"]
    return FeatureSpec(
        channels=tuple((key, how) for key, how in spec["channels"]),
        warmup=int(spec["warmup"]),
        recent=int(spec["recent"]),
        quality=bool(spec.get("quality", True)),
    )


# (id(history), len(history), id(model)) -> (history, model, probabilities): a protocol
# replays one model on one run under every threshold and patience of its grid, and the
# features are nearly all of the cost. Histories are append-only (a run's grows by an
# epoch at a time), so an entry holds while its history has the same object and length;
# holding both objects keeps their ids from being reused.
_MEMO: dict[tuple[int, int, int], tuple[History, dict[str, Any], tuple[list[int], list[float]]]]
_MEMO = {}
MEMO_SIZE = 4096


def probabilities(history: History, model: dict[str, Any]) -> tuple[list[int], list[float]]:
    """The model's probability of 'collapsing' at each evaluated epoch (computed once per
    history and model)."""
    key = (id(history), len(history), id(model))
    hit = _MEMO.get(key)
    if hit is None or hit[0] is not history or hit[1] is not model:
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.clear()
        hit = _MEMO[key] = (history, model, _probabilities(history, model))
    epochs, out = hit[2]
    return list(epochs), list(out)  # copies: a caller may change its lists


def _probabilities(history: History, model: dict[str, Any]) -> tuple[list[int], list[float]]:
    epochs, rows = run_features(history, spec_of(model))
    mean, scale, weights = model["mean"], model["scale"], model["weights"]
    out = []
    for row in rows:
        x = [(v - m) / s for v, m, s in zip(row, mean, scale, strict=True)]
        out.append(logistic(weights, model["bias"], x))
    return epochs, out


@register_rule(
    "learned",
    keys=(*(key for key, _ in CHANNELS), *FAILING_KEYS, *QUALITY_KEYS),
    config=LearnedRuleConfig,
)
def learned_rule(history: History, cfg: LearnedRuleConfig) -> Timeline:
    """A linear model of every logged channel against the run's early history (fitted
    on the collapse benchmark's tuning split); fires at `threshold` for `patience`
    evaluations, and marks never-fitted runs as the combined rule does."""
    model = load_model(cfg.model)
    epochs, probability = probabilities(history, model)
    warm = min(len(epochs), cfg.warmup_epochs)
    scores: list[float | None] = [None] * warm + list(probability[warm:])
    steep = [
        v if v is not None else 0.0 for v in optional_series(history, epochs, STEEPNESS_P90_KEY)
    ]
    phases = plateau_phases(ema(steep, cfg.ema), cfg, growing=True)
    return mark_failing(history, epochs, finish(epochs, scores, phases, cfg.threshold, cfg), cfg)
