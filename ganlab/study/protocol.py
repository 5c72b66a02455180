"""The sealed protocol: every choice made inside the tuning split, each look at held-out
scores logged, one confirmation at the end.

1. **Families of rules**, each a grid of settings (`FAMILIES`): the gradient rule, the
   combined rule on gradients and signals, the combined rule with its quality channel,
   the combined rule with escalations confirmed by a quality drop, and the learned rule.
2. **Cross-validation inside the tuning split**, leaving one scenario out: for each
   scenario of the tuning split, each family's best setting (by `objective`) is chosen
   on the other scenarios' tuning runs (the learned model fitted on them too) and judged
   on the left-out scenario's runs. The pooled left-out outcomes are the family's
   cross-validated score: what choosing within that family does on a scenario it did
   not see.
3. **The choice**: the family with the best cross-validated score; its setting is then
   chosen on every tuning run (and the learned model refitted on them). Sealed in
   benchmarks/collapse/choice.json with the date, the commit, every family's result and
   sha256 pins of the rule's code, its settings, the labels, the learned model and the
   tuning runs (ganlab.study.looks): a report whose pins differ says so first.
4. **Looks**: held-out, confirmation and natural scores are computed only through
   ganlab.study.looks.reveal, which logs each look first. The confirmation and natural
   splits are meant to be looked at once, after the choice is sealed.

Every family names each setting of its rule (`Family`), so --choose gives choice.json
back as long as the code and the tuning runs are those it pins.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ganlab.config import EarlyStopConfig
from ganlab.core.paths import BENCHMARK_DATA
from ganlab.rules import rule_config
from ganlab.rules.features import FeatureSpec
from ganlab.rules.library.learned import NO_QUALITY, SHIPPED_MODEL, SHIPPED_NO_QUALITY_MODEL
from ganlab.study.learned_fit import fit, save
from ganlab.study.looks import seal_pins
from ganlab.study.scoring import LabelledRun, Outcome, Score, decide, objective, score

SEAL_FORMAT = "ganlab-collapse-choice/1"
SEAL_PATH = BENCHMARK_DATA / "choice.json"
# the choice among rules that read no quality (NO_QUALITY_FAMILIES), sealed apart
NO_QUALITY_SEAL_PATH = SEAL_PATH.with_name("choice_no_quality.json")


@dataclass(frozen=True)
class Family:
    """A family of settings of one rule: every combination of `axes` (over `fixed`).

    Between them, `fixed` and `axes` name every setting of the rule (`unnamed` is empty,
    a test keeps it so): a family never inherits a default, so changing a rule's defaults
    (as sealing a choice does) cannot change what the protocol searched."""

    rule: str
    fixed: Mapping[str, Any]
    axes: Mapping[str, Sequence[Any]]
    quality_features: bool = True  # learned families: fit the model with quality or not

    def settings(self) -> list[EarlyStopConfig]:
        names = list(self.axes)
        return [
            rule_config(self.rule, **{**self.fixed, **dict(zip(names, values, strict=True))})
            for values in itertools.product(*(self.axes[n] for n in names))
        ]

    def unnamed(self) -> set[str]:
        """Settings of the rule left to its defaults (`action`, `rewind` and `model` do
        not change a replay)."""
        names = {f.name for f in fields(rule_config(self.rule))}
        return names - set(self.fixed) - set(self.axes) - {"rule", "action", "rewind", "model"}


# What every rule shares, as the protocol was sealed (EarlyStopConfig's fields)
SHARED = {"warmup_epochs": 5, "ema": 0.5, "window": 3, "plateau_tol": 0.05}
# The combined rule's channels at rest: each family below switches on what it searches
COMBINED_OFF = {
    **SHARED,
    "frozen_tol": 1e-4,
    "refine_quality": 0.5,  # phases only: no decision reads them
    "drift": 0.3,
    "shift_window": 3,
    "shift_up": 0.0,
    "shift_down": 0.0,
    "escalation": 0.0,
    "confirm_within": 0,
    "confirm_drop": 0.3,
    "quality_drop": 0.0,
    "quality_window": 3,
    "quality_patience": 1,
    "quality_floor": 0.25,
    "patience": 1,
}


LOG = math.log
FAMILIES: dict[str, Family] = {
    # the rule shipped before the benchmark: a spike of D's gradient at the fakes
    "gradient": Family(
        "gradient",
        {**SHARED, "patience": 1, "score_from": "warmup"},
        {
            "tau": (1.0, 2.0, 3.0),
            "reference": ("recent", "running"),
            "beta": (0.0, 1.0),
            "ema": (0.5, 1.0),
        },
    ),
    # gradients and in-step signals only: CUSUM shifts, escalation, the failing channels
    "combined": Family(
        "combined",
        COMBINED_OFF,
        {
            "shift_up": (0.0, 3.0),
            "escalation": (0.0, LOG(5), LOG(10), LOG(30), LOG(100)),
            "dominance": (0.75, 0.8, 0.9, 1.0),
            "fail_patience": (3, 6, 10),
            "patience": (1, 2),
        },
    ),
    # the quality channel with its own window and patience (and optionally escalation)
    "combined+quality": Family(
        "combined",
        COMBINED_OFF,
        {
            "quality_drop": (0.3, 0.4, 0.5, 0.6),
            "quality_window": (3, 5),
            "quality_patience": (1, 2, 3),
            "quality_floor": (0.25, 0.5),
            "escalation": (0.0, LOG(30)),
            "dominance": (0.75, 0.9, 1.0),
            "fail_patience": (6, 10),
        },
    ),
    # an escalation counts once quality has fallen within a few evaluations of it
    "confirmed escalation": Family(
        "combined",
        COMBINED_OFF,
        {
            "escalation": (LOG(5), LOG(10), LOG(30)),
            "confirm_within": (1, 2, 3, 5),
            "confirm_drop": (0.2, 0.3, 0.5),
            "quality_window": (3, 5),
            "dominance": (0.75, 0.9),
            "fail_patience": (6, 10),
        },
    ),
    # the learned model (fitted per fold); its threshold and the failing channels
    "learned": Family(
        "learned",
        {**SHARED, "frozen_tol": 1e-4, "refine_quality": 0.5},
        {
            "threshold": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
            "patience": (1, 2),
            "dominance": (0.75, 0.9),
            "fail_patience": (6, 10),
        },
    ),
}


# The protocol for a rule that reads no quality (images: quality costs a classifier or an
# FID every few epochs): the families whose rules read only the cheap per-epoch channels,
# sealed apart (choice_no_quality.json); the default rule is not changed by it.
NO_QUALITY_FAMILIES: dict[str, Family] = {
    "gradient": FAMILIES["gradient"],
    "combined": FAMILIES["combined"],
    "learned, no quality": Family(
        "learned", FAMILIES["learned"].fixed, FAMILIES["learned"].axes, quality_features=False
    ),
}


# the threshold each family's curve of catch rate against alarm rate sweeps
THRESHOLD_OF = {
    "gradient": ("tau", (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)),
    "combined": ("escalation", tuple(LOG(v) for v in (2, 3, 5, 10, 20, 30, 50, 100, 300))),
    "combined+quality": ("quality_drop", (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)),
    "confirmed escalation": ("confirm_drop", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)),
    "learned": ("threshold", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)),
    "learned, no quality": ("threshold", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)),
}


def scenario_of(run: LabelledRun) -> str:
    return f"{run.family}/{run.scenario}"


@dataclass
class FamilyResult:
    """A family's cross-validated score and its setting chosen on all tuning runs."""

    family: str
    cv: Score
    cv_outcomes: list[Outcome]
    folds: dict[str, EarlyStopConfig]  # left-out scenario -> the setting chosen without it
    setting: EarlyStopConfig  # chosen on every tuning run


def best(outcomes_by_setting: Sequence[tuple[EarlyStopConfig, list[Outcome]]]) -> int:
    """Index of the setting with the best objective on its outcomes (first on ties)."""
    keys = [objective(score(outcomes)) for _, outcomes in outcomes_by_setting]
    return min(range(len(keys)), key=lambda i: keys[i])


def cross_validate(
    family: str,
    runs: Sequence[LabelledRun],
    report: Callable[[str], None] = print,
    model_file: Path | None = None,
    families: Mapping[str, Family] = FAMILIES,
) -> FamilyResult:
    """Leave-one-scenario-out cross-validation of choosing within `family` (see module);
    a learned family's final model is written to `model_file`."""
    scenarios = sorted({scenario_of(r) for r in runs})
    settings = families[family].settings()
    learned = families[family].rule == "learned"
    spec = FeatureSpec(quality=families[family].quality_features)
    folds: dict[str, EarlyStopConfig] = {}
    pooled: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="ganlab-protocol-") as tmp:
        if not learned:  # every setting's outcome on every run, computed once
            table = [[decide(run, cfg) for run in runs] for cfg in settings]
        for left_out in scenarios:
            train = [i for i, r in enumerate(runs) if scenario_of(r) != left_out]
            test = [i for i, r in enumerate(runs) if scenario_of(r) == left_out]
            if learned:
                model = Path(tmp) / f"{left_out.replace('/', '-')}.json"
                save(fit([runs[i] for i in train], spec), model)
                candidates = [_with_model(cfg, model) for cfg in settings]
                rows = [[decide(runs[i], cfg) for i in train] for cfg in candidates]
                chosen = best(list(zip(candidates, rows, strict=True)))
                cfg = candidates[chosen]
                pooled += [decide(runs[i], cfg) for i in test]
            else:
                rows = [[table[s][i] for i in train] for s in range(len(settings))]
                chosen = best(list(zip(settings, rows, strict=True)))
                cfg = settings[chosen]
                pooled += [table[chosen][i] for i in test]
            folds[left_out] = cfg
        if learned:
            model = model_file or Path(tmp) / "learned_model.json"
            save(fit(list(runs), spec), model)
            candidates = [_with_model(cfg, model) for cfg in settings]
            rows = [[decide(run, cfg) for run in runs] for cfg in candidates]
            setting = candidates[best(list(zip(candidates, rows, strict=True)))]
        else:
            setting = settings[best(list(zip(settings, table, strict=True)))]
    cv = score(pooled)
    report(
        f"  {family}: cross-validated over {len(scenarios)} scenarios: caught "
        f"{cv.hit.text()}, alarms {cv.false_alarm_good.text()}, failing {cv.failing.text()}"
    )
    return FamilyResult(family, cv, pooled, folds, setting)


def _with_model(cfg: EarlyStopConfig, model: Path) -> EarlyStopConfig:
    return rule_config(cfg.rule, **{**settings_of(cfg), "model": str(model)})


def settings_of(cfg: EarlyStopConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(cfg).items() if k != "rule"}


@dataclass
class Seal:
    """The choice, as written to choice.json."""

    family: str
    rule: EarlyStopConfig
    families: dict[str, dict[str, Any]]
    date: str
    commit: str
    command: str
    # sha256 of what the choice was made with (ganlab.study.looks.seal_pins)
    pins: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SEAL_FORMAT,
            "chosen_family": self.family,
            "rule": {"rule": self.rule.rule, **_portable(settings_of(self.rule))},
            "families": self.families,
            "date": self.date,
            "commit": self.commit,
            "command": self.command,
            "pins": self.pins,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Seal:
        rule = dict(data["rule"])
        return cls(
            data["chosen_family"],
            rule_config(rule.pop("rule"), **rule),
            data["families"],
            data["date"],
            data["commit"],
            data["command"],
            dict(data.get("pins", {})),
        )


def _portable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as choice.json keeps them: the shipped models by their names ('' for the
    default, `no_quality`)."""
    model = settings.get("model")
    if model and Path(model).resolve() == SHIPPED_MODEL.resolve():
        settings = {**settings, "model": ""}
    elif model and Path(model).resolve() == SHIPPED_NO_QUALITY_MODEL.resolve():
        settings = {**settings, "model": NO_QUALITY}
    return settings


def family_setting(seal: Seal, family: str) -> EarlyStopConfig:
    """The setting `family` chose on every tuning run, as sealed."""
    saved = dict(seal.families[family]["setting"])
    return rule_config(saved.pop("rule"), **saved)


def choose(
    runs: Sequence[LabelledRun],
    commit: str,
    command: str,
    catalogue: Path,
    model_path: Path = SHIPPED_MODEL,
    report: Callable[[str], None] = print,
    families: Mapping[str, Family] = FAMILIES,
) -> Seal:
    """Run the protocol on the tuning runs `runs` over `families`; the learned model of
    the final fit is written to `model_path`; the seal pins what the choice was made with."""
    report(f"protocol: cross-validating {len(families)} rule families on {len(runs)} tuning runs")
    results = {
        family: cross_validate(family, runs, report, model_path, families) for family in families
    }
    chosen = min(results, key=lambda f: objective(results[f].cv))
    sealed = {
        family: {
            "setting": {"rule": result.setting.rule, **_portable(settings_of(result.setting))},
            "cv": summary(result.cv),
        }
        for family, result in results.items()
    }
    report(f"protocol: chose {chosen} (best cross-validated objective)")
    setting = results[chosen].setting
    if setting.rule == "learned":
        setting = rule_config("learned", **_portable(settings_of(setting)))
    pins = seal_pins(setting, runs, catalogue, model_path)
    return Seal(chosen, setting, sealed, datetime.date.today().isoformat(), commit, command, pins)


def summary(s: Score) -> dict[str, Any]:
    """A score's counts, as choice.json and the look log keep them."""
    return {
        "caught": [s.hit.hits, s.hit.n],
        "alarms_healthy_recovering": [s.false_alarm_good.hits, s.false_alarm_good.n],
        "failing_by_half": [s.failing.hits, s.failing.n],
        # the protocol's tie-break, as sealed (scoring.Outcome.protocol_regret)
        "median_regret_fitted": s.median_protocol_regret,
    }


def write_seal(seal: Seal, path: Path = SEAL_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(seal.to_json(), indent=1) + "\n")


def read_seal(path: Path = SEAL_PATH) -> Seal | None:
    return Seal.from_json(json.loads(path.read_text())) if path.is_file() else None
