"""Steepness: exact Jacobian vs power iteration as the output dimension grows, one process.

The generators are the ones ganlab builds for each data shape at default settings:
the ring8 MLP (latent 2 -> 2), the MNIST DCGAN (latent 100 -> 28x28x1 = 784) and the
CIFAR-10 DCGAN (latent 100 -> 32x32x3 = 3072), in eval mode, at initialisation (cost does
not depend on the weights; agreement is checked on these weights).

- exact: `vmap(jacrev(G))` then the matrix 2-norm. jacrev needs one vector-Jacobian
  product per output coordinate, so its cost grows with d_x.
- power: `monitor.steepness.power_iterations` (20) J^T J products (one jvp and one vjp
  each) and the Rayleigh-Ritz value: the cost does not depend on d_x beyond one pass.

Prints seconds per latent for both, their ratio, and the largest relative difference
between the two values over the latents measured; writes a plot (log-log cost against
d_x, and the agreement) to benchmarks/figures/steepness_scaling.png.

    python benchmarks/steepness_scaling.py [--latents 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from ganlab.config import (  # noqa: E402
    ModelConfig,
    MonitorConfig,
    SteepnessMonitorConfig,
    register,
    validate,
)
from ganlab.core.paths import CONF_DIR  # noqa: E402
from ganlab.models.dcgan import build_dcgan_pair  # noqa: E402
from ganlab.models.mlp import build_mlp_pair  # noqa: E402
from ganlab.monitors.steepness import steepness_exact, steepness_power  # noqa: E402

FIGURE = Path(__file__).parent / "figures" / "steepness_scaling.png"
ITERATIONS = SteepnessMonitorConfig().power_iterations


@dataclass
class Case:
    label: str
    generator: nn.Module
    latent_dim: int
    data_dim: int
    exact_batch: int  # latents per exact call: the vmapped Jacobian's memory grows with d_x
    n_latents: int | None = None  # measured latents; None: --latents


def default_model(name: str) -> ModelConfig:
    """The model group's option `name` at its defaults, from the real config tree."""
    register()
    with tempfile.TemporaryDirectory() as tmp:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[f"model={name}", f"paths.output_dir={tmp}"])
        return validate(cfg).model


def cases() -> list[Case]:
    torch.manual_seed(0)
    mlp_cfg, dcgan_cfg = default_model("mlp"), default_model("dcgan")
    # the MLP at its real Z_eval size: per-latent cost at a handful is all call overhead
    z_eval = MonitorConfig().eval_latents
    mlp_g = build_mlp_pair(mlp_cfg, 2)[0]
    found = [Case("ring8 MLP", mlp_g, mlp_cfg.latent_dim, 2, z_eval, n_latents=z_eval)]
    for label, shape in (("MNIST DCGAN", (1, 28, 28)), ("CIFAR-10 DCGAN", (3, 32, 32))):
        g = build_dcgan_pair(dcgan_cfg, shape)[0]
        found.append(Case(label, g, dcgan_cfg.latent_dim, shape[0] * shape[1] * shape[2], 1))
    for case in found:
        case.generator.eval()
    return found


def timed(fn: Callable[[], Tensor], repeats: int) -> tuple[float, Tensor]:
    """Median wall time over `repeats` calls (after one warm-up call), and the result."""
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(case: Case, n_latents: int, repeats: int) -> dict[str, float]:
    z = torch.randn(n_latents, case.latent_dim, generator=torch.Generator().manual_seed(1))
    g = case.generator

    def exact() -> Tensor:
        with torch.no_grad():
            return torch.cat([steepness_exact(g, zc) for zc in z.split(case.exact_batch)])

    def power() -> Tensor:
        rng = torch.Generator().manual_seed(2)
        with torch.no_grad():
            return steepness_power(g, z, ITERATIONS, rng)

    exact_s, exact_values = timed(exact, repeats)
    power_s, power_values = timed(power, repeats)
    rel = ((power_values - exact_values).abs() / exact_values).max().item()
    return {
        "exact": exact_s / n_latents,
        "power": power_s / n_latents,
        "rel_diff": rel,
        "steepness": exact_values.median().item(),
    }


def plot(labels: list[str], dims: list[int], rows: list[dict[str, float]]) -> None:
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig, (cost, agree) = plt.subplots(1, 2, figsize=(10, 4))
    cost.loglog(dims, [r["exact"] * 1e3 for r in rows], "o-", label="exact (vmap + jacrev)")
    cost.loglog(dims, [r["power"] * 1e3 for r in rows], "s-", label=f"power ({ITERATIONS} J^T J)")
    for label, dim, row in zip(labels, dims, rows, strict=True):
        cost.annotate(label, (dim, row["exact"] * 1e3), textcoords="offset points", xytext=(6, -12))
    cost.set_xlim(1, 3e4)  # room for the labels
    cost.set_xlabel("output dimension d_x")
    cost.set_ylabel("ms per latent")
    cost.set_title("cost of one steepness value")
    cost.legend()
    agree.semilogy(dims, [max(r["rel_diff"], 1e-9) for r in rows], "o-")
    agree.axhline(1e-3, color="red", linestyle="--", label="tolerance in the tests (1e-3)")
    agree.set_xscale("log")
    agree.set_xlabel("output dimension d_x")
    agree.set_ylabel("max |power - exact| / exact")
    agree.set_title("agreement")
    agree.legend()
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latents", type=int, default=8, help="latents per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{torch.get_num_threads()} torch threads, median of {args.repeats} timed calls "
        "after a warm-up call\n"
    )
    header = f"{'generator':<16}{'d_z':>5}{'d_x':>6}{'latents':>9}{'exact ms':>11}{'power ms':>11}"
    print(header + f"{'exact/power':>13}{'max rel diff':>14}")
    labels, dims, rows = [], [], []
    for case in cases():
        n_latents = case.n_latents or args.latents
        row = measure(case, n_latents, args.repeats)
        labels.append(case.label)
        dims.append(case.data_dim)
        rows.append(row)
        print(
            f"{case.label:<16}{case.latent_dim:>5}{case.data_dim:>6}{n_latents:>9}"
            f"{row['exact'] * 1e3:>11.3f}"
            f"{row['power'] * 1e3:>11.3f}{row['exact'] / row['power']:>13.2f}"
            f"{row['rel_diff']:>14.1e}"
        )
    plot(labels, dims, rows)
    print(f"\nplot: {FIGURE}")


if __name__ == "__main__":
    main()
