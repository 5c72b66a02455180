"""Phase labels and stopping rules (docs/method.md section 5): one module per rule, each
registered in RULES (ganlab.registry) with the metrics it reads and its own settings.

A rule is a pure function of a run's metric history (epoch -> logged metrics): it returns
a `Timeline` with a score and a phase label per evaluation, the epoch where it triggers
and the epoch it would stop at. The online `EarlyStopper` re-applies the rule to the
growing history after every epoch, so a replay on stored histories (ganlab-replay,
ganlab-benchmark) gives exactly the decisions the run made, and any rule with any
parameters can be judged later without retraining. A new rule is one module in
ganlab/rules/library/ with an `@register_rule("name", keys=..., config=...)` function;
`early_stop=<name>` selects it at once.

Phases: 0 fitting, 1 refining, 2 collapsing, 3 failing. Fitting ends when the rule's
progress signal plateaus; collapsing starts at a collapse trigger; failing marks
evaluations where the run shows it never got going. No trigger is a valid outcome.
"""

from __future__ import annotations

from ganlab.rules.rule import register_rule, rule_config
from ganlab.rules.run_quality import fid_key, mixture_quality, n_modes_of, quality_series
from ganlab.rules.stopper import EarlyStopper, apply_rule
from ganlab.rules.timeline import (
    COLLAPSING,
    D_ACC_KEY,
    DGRAD_KEY,
    DUALITY_GAP_KEY,
    FAILING,
    FITTING,
    G_UPDATE_KEY,
    LOGIT_MAX_KEY,
    PHASE_NAMES,
    REFINING,
    STEEPNESS_MAX_KEY,
    STEEPNESS_P90_KEY,
    History,
    Timeline,
)

__all__ = [
    "COLLAPSING",
    "D_ACC_KEY",
    "DGRAD_KEY",
    "DUALITY_GAP_KEY",
    "FAILING",
    "FITTING",
    "G_UPDATE_KEY",
    "LOGIT_MAX_KEY",
    "PHASE_NAMES",
    "REFINING",
    "STEEPNESS_MAX_KEY",
    "STEEPNESS_P90_KEY",
    "EarlyStopper",
    "History",
    "Timeline",
    "apply_rule",
    "fid_key",
    "mixture_quality",
    "n_modes_of",
    "quality_series",
    "register_rule",
    "rule_config",
]
