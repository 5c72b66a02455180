"""The learned rule: features read only the past (online decisions equal replayed ones),
the model file holds what scikit-learn fitted (its probabilities, recomputed), and it is
read without unpickling."""

from __future__ import annotations

import json
import math
import random

import pytest

from ganlab.rules import rule_config
from ganlab.rules.features import CHANNELS, FeatureSpec, run_features
from ganlab.rules.library.learned import load_model, probabilities
from ganlab.study.labels import LabelCriteria
from ganlab.study.learned_fit import examples, fit, save
from ganlab.study.scoring import labelled
from tests.support import assert_online_equals_replay


def synthetic_run(rng: random.Random, name: str, collapse_at: int | None, n: int = 30):
    """A ring8 history: quality rises, then (maybe) falls for good while D's logits and
    gradients escalate; every channel the features read is logged, with noise."""
    rows = []
    for epoch in range(n + 1):
        fitted = min(1.0, epoch / 8)
        collapsed = collapse_at is not None and epoch >= collapse_at
        q = 0.05 if collapsed else 0.9 * fitted
        metrics = {
            "quality/hq_fraction": max(0.0, q + rng.gauss(0, 0.03)),
            "quality/modes_covered": 8.0 if not collapsed else 2.0,
            **{f"quality/mode_hq_count/{k}": 10.0 for k in range(8)},
        }
        for key, how in CHANNELS:
            base = 1.0 if how == "log" else 0.5
            boost = 30.0 if (collapsed and how == "log") else 1.0
            metrics[key] = (
                base * boost * math.exp(rng.gauss(0, 0.2))
                if how == "log"
                else (base + (0.4 if collapsed else 0.0) + rng.gauss(0, 0.05))
            )
        rows.append((epoch, metrics))
    return labelled(name, "ring8", "x", 0, "tune", rows, LabelCriteria())


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    rng = random.Random(0)
    runs = [synthetic_run(rng, f"c{i}", 15 + i) for i in range(6)]
    runs += [synthetic_run(rng, f"h{i}", None) for i in range(6)]
    path = tmp_path_factory.mktemp("model") / "model.json"
    save(fit(runs, FeatureSpec()), path)
    return path, runs


def test_the_model_file_reproduces_scikit_learns_probabilities(model_file) -> None:
    """What the rule computes from the JSON numbers is what the fitted estimator says."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    path, runs = model_file
    x, y = examples(runs, FeatureSpec())
    scaler = StandardScaler().fit(np.asarray(x))
    scale = np.where(scaler.scale_ > 1e-12, scaler.scale_, 1.0)
    estimator = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
    estimator.fit((np.asarray(x) - scaler.mean_) / scale, np.asarray(y))
    model = load_model(str(path))
    run = runs[0]
    epochs, ours = probabilities(run.history, model)
    _, rows = run_features(run.history, FeatureSpec())
    theirs = estimator.predict_proba((np.asarray(rows) - scaler.mean_) / scale)[:, 1]
    assert ours == pytest.approx(list(theirs), abs=1e-9)
    assert json.loads(path.read_text())["format"] == "ganlab-learned-rule/1"


def test_a_grown_history_is_scored_again_not_read_from_the_memo(model_file) -> None:
    """A run replayed under many settings is featurised once, but a history that grew by
    an epoch (the online stopper's) or another model gives fresh probabilities."""
    path, runs = model_file
    model = load_model(str(path))
    history = list(runs[0].history[:10])
    first = probabilities(history, model)
    assert probabilities(history, model) == first
    history.append(runs[0].history[10])
    epochs, grown = probabilities(history, model)
    assert len(epochs) == len(first[0]) + 1 and grown[:-1] == pytest.approx(first[1])
    assert (epochs, grown) == probabilities(list(history), dict(model))  # fresh objects


def test_the_learned_rule_separates_the_runs_it_learned_from(model_file) -> None:
    path, runs = model_file
    cfg = rule_config("learned", model=str(path), threshold=0.5, warmup_epochs=5)
    from ganlab.study.scoring import decide

    collapsed = [decide(r, cfg) for r in runs if r.label.label == "collapsed"]
    healthy = [decide(r, cfg) for r in runs if r.label.label == "healthy"]
    assert collapsed and healthy
    assert all(o.hit for o in collapsed)
    assert not any(o.alarm for o in healthy)


@pytest.mark.parametrize("seed", range(8))
def test_learned_decisions_online_equal_replay(model_file, seed: int) -> None:
    path, _ = model_file
    rng = random.Random(seed)
    run = synthetic_run(rng, "r", rng.choice([None, 12, 18]))
    rows = list(run.history)
    for _, metrics in rows:  # some evaluations miss some channels
        for key in list(metrics):
            if rng.random() < 0.1:
                metrics.pop(key)
    cfg = rule_config(
        "learned", model=str(path), threshold=rng.uniform(0.2, 0.9), patience=rng.randint(1, 2)
    )
    assert_online_equals_replay(rows, cfg)


def test_a_model_file_that_is_not_one_is_one_sentence(tmp_path) -> None:
    from ganlab.core.errors import ConfigError

    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ConfigError, match="is not a ganlab-learned-rule/1 model"):
        load_model(str(bad))
