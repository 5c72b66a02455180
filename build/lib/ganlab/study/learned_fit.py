"""Fitting the learned rule's model on labelled runs (scikit-learn), and writing it as JSON.

Each evaluation of a labelled run is one example (features: ganlab.rules.features):

- positive ("collapsing"): evaluations of collapsed runs from one evaluation before the
  onset to the end; the rule should fire there;
- negative: every scored evaluation of healthy and recovering runs, and those of
  collapsed runs before their best epoch (the run was still getting better);
- left out: never-fitted runs (the failing channels judge those), partial and ambiguous
  runs (what they should be called is the open question), the warm-up.

A logistic regression on standardised features, classes weighted to balance, L2
penalty `c`: a linear model is enough to rank what the hand-made channels rank, and its
weights can be read. The fitted numbers go to a JSON file the rule reads without
unpickling anything.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganlab.rules.features import FeatureSpec, run_features
from ganlab.rules.library.learned import MODEL_FORMAT
from ganlab.study.labels import COLLAPSED, HEALTHY, RECOVERING
from ganlab.study.scoring import LabelledRun

DEFAULT_C = 0.1


def examples(runs: Sequence[LabelledRun], spec: FeatureSpec) -> tuple[list[list[float]], list[int]]:
    """(features, targets) of every evaluation the model learns from."""
    x: list[list[float]] = []
    y: list[int] = []
    for run in runs:
        label = run.label
        if label.label not in (HEALTHY, RECOVERING, COLLAPSED):
            continue
        epochs, rows = run_features(run.history, spec)
        onset_index = None
        if label.label == COLLAPSED and label.onset_epoch in epochs:
            onset_index = max(0, epochs.index(label.onset_epoch) - 1)
        for i, (epoch, row) in enumerate(zip(epochs, rows, strict=True)):
            if i < spec.warmup:
                continue
            if onset_index is not None and i >= onset_index:
                x.append(row)
                y.append(1)
            elif label.label != COLLAPSED or (label.best_epoch and epoch < label.best_epoch):
                x.append(row)
                y.append(0)
    return x, y


def fit(
    runs: Sequence[LabelledRun], spec: FeatureSpec | None = None, c: float = DEFAULT_C
) -> dict[str, Any]:
    """The model (a JSON-ready dict) fitted on `runs`."""
    import numpy as np
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    spec = spec or FeatureSpec()
    x, y = examples(runs, spec)
    if len(set(y)) < 2:  # nothing to tell apart (no collapse among the runs): never fire
        return _constant(spec, len(runs), len(y), sum(y), c)
    data = np.asarray(x, dtype=float)
    scaler = StandardScaler().fit(data)
    scale = np.where(scaler.scale_ > 1e-12, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((data - scaler.mean_) / scale, np.asarray(y))
    return {
        "format": MODEL_FORMAT,
        "spec": {
            "channels": [list(pair) for pair in spec.channels],
            "warmup": spec.warmup,
            "recent": spec.recent,
            "quality": spec.quality,
        },
        "feature_names": spec.names(),
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scale],
        "weights": [float(v) for v in model.coef_[0]],
        "bias": float(model.intercept_[0]),
        "fitted_on": {
            "runs": len({r.name for r in runs}),
            "examples": len(y),
            "positives": int(sum(y)),
            "c": c,
            "scikit_learn": sklearn.__version__,
            "date": datetime.date.today().isoformat(),
        },
    }


def _constant(spec: FeatureSpec, runs: int, n: int, positives: int, c: float) -> dict[str, Any]:
    """A model that never fires: what the runs teach when none of them collapsed."""
    names = spec.names()
    return {
        "format": MODEL_FORMAT,
        "spec": {
            "channels": [list(pair) for pair in spec.channels],
            "warmup": spec.warmup,
            "recent": spec.recent,
            "quality": spec.quality,
        },
        "feature_names": names,
        "mean": [0.0] * len(names),
        "scale": [1.0] * len(names),
        "weights": [0.0] * len(names),
        "bias": -60.0,
        "fitted_on": {
            "runs": runs,
            "examples": n,
            "positives": positives,
            "c": c,
            "note": "no collapsed runs to learn from: the model never fires",
            "date": datetime.date.today().isoformat(),
        },
    }


def save(model: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=1) + "\n")
