"""Generator conditioning and per-layer spectral norms against numpy's SVD of Jacobians
and weights built independently (finite differences, explicit reshapes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganlab.config import ModelConfig, NetConfig, SteepnessMonitorConfig
from ganlab.models.dcgan import build_dcgan_pair
from ganlab.monitors.base import EvalState
from ganlab.monitors.spectral import layer_spectral_norms
from ganlab.monitors.steepness import SteepnessMonitor
from ganlab.training.run import train
from tests.conftest import metric_steps


def finite_difference_jacobian(g: nn.Module, z: torch.Tensor, h: float = 1e-6) -> np.ndarray:
    """Central differences in float64, one latent coordinate at a time."""
    z = z.double()
    columns = []
    for i in range(z.shape[0]):
        step = torch.zeros_like(z)
        step[i] = h
        with torch.no_grad():
            up = g((z + step)[None]).reshape(-1)
            down = g((z - step)[None]).reshape(-1)
        columns.append(((up - down) / (2 * h)).numpy())
    return np.stack(columns, axis=1)


def expected_stats(g: nn.Module, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    singular = np.stack(
        [np.linalg.svd(finite_difference_jacobian(g, zi), compute_uv=False) for zi in z]
    )
    return singular[:, -1], singular[:, 0] / singular[:, -1]


@pytest.mark.parametrize(("d_z", "method"), [(5, "exact"), (2, "exact"), (5, "power")])
def test_smallest_singular_value_and_condition_number_match_numpy(d_z: int, method: str) -> None:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(d_z, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    z = torch.randn(40, d_z, dtype=torch.float64)
    cfg = SteepnessMonitorConfig(method=method, conditioning_latents=25)
    monitor = SteepnessMonitor(cfg, z, data_dim=2, seed=0)
    stats = monitor(EvalState(g, g, 1, torch.device("cpu")))
    used = z if method == "exact" else z[:25]
    sigma_min, condition = expected_stats(g, used)
    assert stats["monitor/g_sigma_min_mean"] == pytest.approx(sigma_min.mean(), rel=1e-6)
    assert stats["monitor/g_sigma_min_max"] == pytest.approx(sigma_min.max(), rel=1e-6)
    assert stats["monitor/g_condition_max"] == pytest.approx(condition.max(), rel=1e-6)
    assert stats["monitor/g_condition_p90"] == pytest.approx(np.quantile(condition, 0.9), rel=1e-6)


def test_conditioning_of_an_image_generator_uses_the_first_latents() -> None:
    cfg = ModelConfig(name="dcgan", latent_dim=6, g=NetConfig(width=4))
    g, _ = build_dcgan_pair(cfg, (1, 28, 28))
    g = g.double().eval()
    z = torch.randn(12, 6, dtype=torch.float64)
    monitor = SteepnessMonitor(
        SteepnessMonitorConfig(conditioning_latents=3), z, data_dim=784, seed=0
    )
    assert not monitor.exact
    stats = monitor(EvalState(g, g, 1, torch.device("cpu")))
    sigma_min, condition = expected_stats(g, z[:3])
    assert stats["monitor/g_sigma_min_mean"] == pytest.approx(sigma_min.mean(), rel=1e-5)
    assert stats["monitor/g_condition_mean"] == pytest.approx(condition.mean(), rel=1e-5)


def test_layer_spectral_norms_match_numpy() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.ConvTranspose2d(4, 2, 4), nn.Flatten(), nn.Linear(8, 3)
    )
    norms = layer_spectral_norms(net)
    conv, deconv, linear = net[0].weight, net[2].weight, net[4].weight
    by_hand = {
        "0": np.linalg.svd(conv.detach().numpy().reshape(4, 27), compute_uv=False)[0],
        # a transposed convolution's weight is (in, out, kh, kw): out channels first
        "2": np.linalg.svd(
            deconv.detach().numpy().transpose(1, 0, 2, 3).reshape(2, 64), compute_uv=False
        )[0],
        "4": np.linalg.svd(linear.detach().numpy(), compute_uv=False)[0],
    }
    assert norms == pytest.approx(by_hand, rel=1e-6)


def test_runs_log_conditioning_and_layer_norms_every_epoch(make_cfg, client) -> None:
    run = train(make_cfg("model.latent_dim=4"))
    for key in ("monitor/g_condition_p90", "monitor/g_sigma_min_mean", "monitor/spectral/d/0"):
        assert metric_steps(client, run.run_id, key) == [0, 1, 2, 3], key
