"""The package a user installs: a wheel, in a fresh venv outside the clone, trains, replays
and re-scores the collapse benchmark.

The venv is new and holds only the wheel; its dependencies (torch, MLflow, Hydra: several
GB) are borrowed from the test's own environment through a .pth file instead of being
downloaded again. The clone is nowhere on the venv's path: `ganlab` is imported from the
wheel's files, and every config, seal and trajectory set comes from inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ganlab.core.paths import PROJECT_ROOT
from tests.conftest import TINY

pytestmark = pytest.mark.slow


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 900):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    # built from a copy of the sources: setuptools stages into <source>/build/ and never
    # removes what it staged before, so a clone's stale build/ could ship deleted modules
    source = folder / "source"
    shutil.copytree(
        PROJECT_ROOT,
        source,
        symlinks=True,  # ganlab/study/benchmark_data links into benchmarks/collapse
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
            "outputs", "multirun", "mlflow.db*", "mlartifacts", "demo", "compare", "docs",
        ),
    )  # fmt: skip
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(folder / "dist"), str(source)],
        folder,
        dict(os.environ),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (folder / "dist").glob("ganlab-*.whl")
    env_dir = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        folder,
        dict(os.environ),
    ).stdout.strip()
    # the test environment's packages, after the venv's own (the wheel wins over the clone)
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        folder,
        dict(os.environ),
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    return env_dir


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GANLAB_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    return env | {"HOME": str(home)}


def test_a_wheel_in_a_fresh_venv_trains_replays_and_rescores(venv: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    bin_dir = venv / "bin"
    where = run(
        [str(bin_dir / "python"), "-c", "import ganlab; print(ganlab.__file__)"], tmp_path, env
    )
    assert str(venv) in where.stdout and str(PROJECT_ROOT) not in where.stdout, where.stdout
    # trains one run with the configs inside the package, into ./mlflow.db
    trained = run([str(bin_dir / "ganlab-train"), *TINY, "trainer.epochs=2"], tmp_path, env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (tmp_path / "mlflow.db").is_file()  # the current folder is a wheel's project root
    replayed = run([str(bin_dir / "ganlab-replay"), "--experiment", "ganlab"], tmp_path, env)
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert "| never stop (baseline) | **all** | 1 |" in replayed.stdout
    # re-scores the shipped trajectory set, which the wheel carries
    scored = run(
        [
            str(bin_dir / "ganlab-benchmark"),
            "collapse",
            "--score-only",
            "--out",
            str(tmp_path / "b"),
        ],
        tmp_path,
        env,
    )
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert scored.stdout.startswith("Seal: holds"), scored.stdout[:300]
    assert (tmp_path / "b" / "scores.csv").is_file()
