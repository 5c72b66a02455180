"""hydra/launcher=slurm: the sbatch script it submits, and reading squeue's answers.

The real hydra-submitit-launcher and submitit executor build the job array; only the
final `sbatch` call is intercepted, and the script it would have submitted is checked.
Sweeps on a real cluster: tests/test_slurm_cluster.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn
from hydra.types import HydraContext
from submitit.slurm.slurm import SlurmExecutor

from ganlab.config import register
from ganlab.core.paths import CONF_DIR


class Submitted(Exception):
    def __init__(self, script: Path) -> None:
        self.script = script


def sbatch_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str]) -> str:
    from hydra._internal.callbacks import Callbacks
    from hydra.core.plugins import Plugins

    def intercept(self: SlurmExecutor, submission_file: Path) -> list[str]:
        raise Submitted(submission_file)

    monkeypatch.setattr(SlurmExecutor, "_make_submission_command", intercept)
    # submitit refuses to build an executor where `srun` is not installed
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 2))
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["hydra/launcher=slurm", f"hydra.sweep.dir={tmp_path}", *overrides],
            return_hydra_config=True,
        )
        context = HydraContext(GlobalHydra.instance().config_loader(), Callbacks(cfg))
        launcher = Plugins.instance().instantiate_launcher(
            hydra_context=context, task_function=lambda _: JobReturn(), config=cfg
        )
        with pytest.raises(Submitted) as submitted:
            launcher.launch([[f"seed={i}"] for i in range(10)], initial_job_idx=0)
    GlobalHydra.instance().clear()
    return submitted.value.script.read_text()


def test_slurm_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = sbatch_script(tmp_path, monkeypatch, [])
    assert "#SBATCH --array=0-9%10" in script  # 10 jobs; the cap of 64 does not bind
    assert "#SBATCH --time=240" in script
    assert "#SBATCH --cpus-per-task=4" in script
    assert "#SBATCH --gpus-per-node=1" in script
    assert "#SBATCH --mem=16GB" in script
    assert "#SBATCH --partition" not in script  # none unless the user names one
    assert f"#SBATCH --output={tmp_path}/.submitit/" in script


def test_slurm_options_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = sbatch_script(
        tmp_path,
        monkeypatch,
        [
            "hydra.launcher.partition=gpu-a100",
            "hydra.launcher.timeout_min=90",
            "hydra.launcher.gpus_per_node=2",
            "hydra.launcher.array_parallelism=8",
            "hydra.launcher.cpus_per_task=16",
            "+hydra.launcher.account=gan-lab",
        ],
    )
    for line in (
        "--partition=gpu-a100",
        "--time=90",
        "--gpus-per-node=2",
        "--array=0-9%8",
        "--cpus-per-task=16",
        "--account=gan-lab",
    ):
        assert f"#SBATCH {line}" in script


def test_slurm_job_threads_follow_cpus_per_task() -> None:
    from omegaconf import OmegaConf

    from ganlab.launch.app import launcher_threads

    slurm = OmegaConf.create(
        {
            "_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
            "cpus_per_task": 16,
        }
    )
    assert launcher_threads(slurm, cpu_count=128) == 16
    joblib = OmegaConf.create(
        {
            "_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
            "n_jobs": 3,
        }
    )
    assert launcher_threads(joblib, cpu_count=12) == 4
    assert launcher_threads(OmegaConf.create({**joblib, "n_jobs": -1}), cpu_count=12) == 1
    assert launcher_threads(OmegaConf.create({"_target_": "BasicLauncher"}), 12) is None


def test_squeue_answers_read_as_submitit_reads_sacct() -> None:
    """Where sacct is off, job states come from squeue: array tasks, pending ranges,
    transitional states (still running) and jobs squeue no longer lists (ended)."""
    from submitit.slurm.slurm import SlurmInfoWatcher

    from ganlab.launch.sweeps.slurm import GONE, _parse_squeue

    output = "7_0|RUNNING|node1\n7_[1-3]|PENDING|\n8|CONFIGURING|node2\n9|CANCELLED|node1\n"
    info = _parse_squeue(output, {"7_0", "7_2", "8", "9", "5", "6_1"})
    states = {job: info[job]["State"] for job in ("7_0", "7_1", "7_3", "8", "9", "5", "6_1")}
    assert states == {
        "7_0": "RUNNING",
        "7_1": "PENDING",
        "7_3": "PENDING",
        "8": "RUNNING",  # configuring: not over
        "9": "CANCELLED",
        "5": GONE,  # no longer listed: it ended
        "6_1": GONE,
    }
    watcher = SlurmInfoWatcher()
    watcher._info_dict = info
    done = {job: watcher.is_done(job, mode="cache") for job in states}
    assert done == {
        "7_0": False,
        "7_1": False,
        "7_3": False,
        "8": False,
        "9": True,
        "5": True,
        "6_1": True,
    }
