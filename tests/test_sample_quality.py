"""Precision/recall, density/coverage and the Inception Score against independent
computations: the authors' `prdc` code, brute force in numpy, and the formula by hand."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from ganlab.config import validate
from ganlab.core.errors import ConfigError
from ganlab.core.seeding import generator
from ganlab.data import build_mixture
from ganlab.monitors.coverage import inception_score
from ganlab.monitors.prdc import knn_radii, prdc
from ganlab.training.build import build_parts
from ganlab.training.run import train
from tests.conftest import metric_steps, metric_values
from tests.support import final_weights


def brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The four definitions literally, with full distance matrices (closed balls)."""

    def radii(x: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    r_real, r_fake = radii(real), radii(fake)
    d = np.linalg.norm(real[:, None] - fake[None], axis=2)  # (R, F)
    inside = d <= r_real[:, None]
    return {
        "precision": inside.any(axis=0).mean(),
        "recall": (d <= r_fake[None, :]).any(axis=1).mean(),
        "density": inside.sum(axis=0).mean() / k,
        "coverage": (d.min(axis=1) <= r_real).mean(),
    }


@pytest.mark.parametrize("shift", [0.0, 0.7, 3.0])
def test_prdc_matches_brute_force_and_the_authors_code(shift: float) -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 5)).astype(np.float32)
    fake = (rng.normal(size=(250, 5)) * 1.3 + shift).astype(np.float32)
    ours = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=3)
    expected = brute_force(real.astype(np.float64), fake.astype(np.float64), 3)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-6), name
    from prdc import compute_prdc  # strict balls (<): equal on continuous data

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        reference = compute_prdc(real, fake, nearest_k=3)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(float(value), abs=1e-6), name
    from torch_fidelity.metric_prc import prc_features_to_metric

    fidelity = prc_features_to_metric(
        torch.from_numpy(fake),
        torch.from_numpy(real),
        prc_neighborhood=3,
        prc_batch_size=10000,
        save_cpu_ram=True,
        verbose=False,
    )
    assert ours["precision"] == pytest.approx(fidelity["precision"], abs=1e-6)
    assert ours["recall"] == pytest.approx(fidelity["recall"], abs=1e-6)


def test_prdc_is_the_same_in_small_batches() -> None:
    torch.manual_seed(0)
    real, fake = torch.randn(500, 3), torch.randn(400, 3) + 0.5
    whole = prdc(real, fake, 3)
    batched = prdc(real, fake, 3, knn_radii(real, 3, batch=37), batch=37)
    assert batched == pytest.approx(whole)


def test_prdc_orders_good_dropped_and_far_generators() -> None:
    torch.manual_seed(0)
    centers = torch.tensor([[2.0, 0], [-2, 0], [0, 2], [0, -2]])
    real = centers[torch.randint(4, (1000,))] + 0.1 * torch.randn(1000, 2)
    good = centers[torch.randint(4, (1000,))] + 0.1 * torch.randn(1000, 2)
    one_mode = centers[0] + 0.1 * torch.randn(1000, 2)
    far = centers[torch.randint(4, (1000,))] + 0.1 * torch.randn(1000, 2) + 1.0
    g, dropped, f = prdc(real, good, 3), prdc(real, one_mode, 3), prdc(real, far, 3)
    assert g["precision"] > 0.9 and g["recall"] > 0.9
    # Naeem et al.: for identical distributions coverage tends to 1 - 2^-k = 0.875 at k = 3
    assert g["coverage"] == pytest.approx(0.875, abs=0.03)
    assert dropped["precision"] > 0.9 and dropped["coverage"] < 0.3  # fidelity, no diversity
    assert f["precision"] < 0.05 and f["density"] < 0.05  # nothing near the data


def test_inception_score_matches_the_formula_by_hand() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1000, 10, dtype=torch.float64) * 3
    score = inception_score(logits, splits=1)
    p = torch.softmax(logits, 1).numpy()
    marginal = p.mean(0)
    kl = (p * (np.log(p) - np.log(marginal))).sum(1).mean()
    assert score == pytest.approx(np.exp(kl), rel=1e-9)
    assert inception_score(torch.eye(10).repeat(100, 1) * 50, splits=1) == pytest.approx(10)
    assert inception_score(torch.zeros(100, 10), splits=1) == pytest.approx(1)


def test_mixture_runs_log_data_space_prdc_under_protocol_named_keys(make_cfg, client) -> None:
    """Every epoch under its protocol-named key, and the last epoch's four values equal
    brute force on the run's own samples: its final generator (from the checkpoint) on the
    monitor's seeded latents, against the monitor's seeded real draw."""
    # wide modes, so that a 3-epoch generator is partly inside them: values strictly
    # between 0 and 1, which a wrong sample, latent or radius would change
    cfg = make_cfg("monitor.prdc.every_n_epochs=1", "monitor.prdc.n_samples=300", "dataset.std=0.5")
    run = train(cfg)
    settings = validate(cfg)
    parts = build_parts(settings, torch.device("cpu"))
    parts.generator.load_state_dict(final_weights(run.checkpoint))
    rng = generator(settings.seed, "monitor/prdc")  # the monitor's draws, in its order
    latents = torch.randn(300, settings.model.latent_dim, generator=rng)
    real = build_mixture(settings.dataset).sample(300, rng)
    parts.generator.eval()
    with torch.no_grad():
        fake = parts.generator(latents)
    expected = brute_force(real.double().numpy(), fake.double().numpy(), 3)
    for name in ("precision", "recall", "density", "coverage"):
        key = f"quality/data_{name}_300_k3"
        assert metric_steps(client, run.run_id, key) == [0, 1, 2, 3], key
        logged = metric_values(client, run.run_id, key)[-1]
        assert logged == pytest.approx(expected[name], abs=1e-6), key
    assert all(0 < expected[name] < 1 for name in ("precision", "recall", "coverage")), expected


def test_prdc_needs_more_samples_than_neighbours(make_cfg) -> None:
    with pytest.raises(ConfigError, match="monitor.prdc.n_samples"):
        train(make_cfg("monitor.prdc.n_samples=3", "monitor.prdc.k=3"))


def test_inception_extras_refused_in_classifier_features(make_cfg) -> None:
    with pytest.raises(ConfigError, match="monitor.prdc"):
        train(
            make_cfg(
                "monitor.fid.feature_extractor=classifier", "monitor.fid.precision_recall=true"
            )
        )


def test_the_quality_score_is_hq_fraction_times_the_share_of_modes_covered(make_cfg, client):
    """quality/score, the quality verdicts and the benchmark read, is logged at every
    evaluation as what its definition says (and so can be charted in MLflow)."""
    from ganlab.training.run import train
    from tests.conftest import metric_values

    result = train(make_cfg("trainer.epochs=3", "dataset=grid25"))
    score = metric_values(client, result.run_id, "quality/score")
    hq = metric_values(client, result.run_id, "quality/hq_fraction")
    covered = metric_values(client, result.run_id, "quality/modes_covered")
    assert len(score) == len(hq) == 4  # epochs 0-3
    assert score == pytest.approx([h * c / 25 for h, c in zip(hq, covered, strict=True)])
