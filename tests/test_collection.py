"""The garbage collector is off while ganlab-train starts up and back on for training.

Start-up got 1.2-1.4 s faster this way (benchmarks/README.md, startup.py); what users rely
on is the other half: that collection is on again while a run trains (a long run with
the collector off would only ever grow), and that library calls leave a program's own
collector alone.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganlab.core import collection
from tests.conftest import PROJECT_ROOT, TINY


@pytest.fixture
def restored_collector() -> Iterator[None]:
    """Whatever a test does to the collector, the test session's is as it was after."""
    enabled = gc.isenabled()
    yield
    collection._paused = False
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_resume_freezes_start_up_and_turns_collection_back_on(restored_collector) -> None:
    gc.enable()
    frozen_before = gc.get_freeze_count()
    collection.pause()
    assert not gc.isenabled() and collection.paused()
    start_up = [[i] for i in range(1000)]  # objects the collector tracks, still alive
    collection.resume()
    assert gc.isenabled() and not collection.paused()
    assert gc.get_freeze_count() >= frozen_before + len(start_up)
    collection.resume()  # a second resume changes nothing
    assert gc.isenabled()


def test_resume_without_a_pause_changes_nothing(restored_collector) -> None:
    """`ganlab.training.run.train` called from a notebook or a script: no freeze, and a
    collector the program turned off stays off."""
    for enabled in (True, False):
        gc.enable() if enabled else gc.disable()
        frozen_before = gc.get_freeze_count()
        collection.resume()
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == frozen_before


def test_a_collector_that_was_off_stays_off(restored_collector) -> None:
    gc.disable()
    collection.pause()
    assert not collection.paused()
    collection.resume()
    assert not gc.isenabled()


def run_script(script: str, args: list[str], cwd: Path, timeout: float = 300):
    """`python -c script args` in `cwd` with a store of its own there, as a user's command
    would run (ganlab from this checkout, modules in `cwd` importable)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"PYTHONPATH": os.pathsep.join([str(cwd), str(PROJECT_ROOT)]), "GANLAB_ROOT": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


FIRST_STEP_SCRIPT = """
import gc, os, sys
import ganlab.training.run as run_module
import ganlab.training.steps as steps
create = run_module.Run.create.__func__
def create_and_report(cls, *args, **kwargs):
    print("CREATING", gc.isenabled(), flush=True)
    return create(cls, *args, **kwargs)
run_module.Run.create = classmethod(create_and_report)
def first_step(self, *args):
    print("TRAINING", gc.isenabled(), gc.get_freeze_count(), flush=True)
    os._exit(0)
steps.Trainer._d_step = first_step
from ganlab.launch.cli import main
sys.argv = ["ganlab-train", *sys.argv[1:]]
main()
"""


def test_a_run_starts_with_the_collector_off_and_trains_with_it_on(tmp_path: Path) -> None:
    result = run_script(FIRST_STEP_SCRIPT, TINY, tmp_path)
    lines = dict(
        line.split(" ", 1)
        for line in result.stdout.splitlines()
        if line.startswith(("CREATING", "TRAINING"))
    )
    assert lines.get("CREATING") == "False", result.stderr[-3000:]
    enabled, frozen = lines["TRAINING"].split()
    assert enabled == "True"
    assert int(frozen) > 100_000  # torch, MLflow, Hydra: everything start-up built


SWEEP_END_SCRIPT = """
import gc, sys
import ganlab.launch.cli as cli
finalize = cli.finalize_active
def finalize_and_report():
    print("SWEEP END", gc.isenabled(), flush=True)
    return finalize()
cli.finalize_active = finalize_and_report
sys.argv = ["ganlab-train", *sys.argv[1:]]
cli.main()
"""


@pytest.mark.slow
def test_a_sweeps_launcher_collects_again_once_its_parent_run_exists(tmp_path: Path) -> None:
    """The launcher lives as long as the sweep (hours, on SLURM) and composes every job's
    config: its collector must be back on after start-up."""
    args = ["-m", "seed=0,1", *TINY, "trainer.epochs=1"]
    result = run_script(SWEEP_END_SCRIPT, args, tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SWEEP END True" in result.stdout.splitlines()


PROBE_MODULE = """
import gc
from ganlab.core import collection

def child(path):
    states = [gc.isenabled(), collection.paused()]
    collection.resume()  # what the forked job's train() does before training
    states += [gc.isenabled(), gc.get_freeze_count() > 0]
    open(path, "w").write(repr(states))
"""

WARM_SCRIPT = """
import sys
from ganlab.launch.sweeps import warm
warm.WARM_MODULES[:] = []  # the pause is the point here, not torch's import
context = warm.warm_context()
import collection_probe
process = context.Process(target=collection_probe.child, args=(sys.argv[1],))
process.start()
process.join()
sys.exit(process.exitcode)
"""


@pytest.mark.skipif(
    "forkserver" not in __import__("multiprocessing").get_all_start_methods(),
    reason="sweep jobs fork from a warm process only where forkserver exists",
)
def test_a_job_forked_from_the_warm_process_resumes_collection(tmp_path: Path) -> None:
    """The warm process imports with the collector paused; each job it forks starts
    paused and turns collection on (with the inherited heap frozen) when it resumes."""
    (tmp_path / "collection_probe.py").write_text(PROBE_MODULE)
    out = tmp_path / "states.txt"
    result = run_script(WARM_SCRIPT, [str(out)], tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_text() == repr([False, True, True, True])
