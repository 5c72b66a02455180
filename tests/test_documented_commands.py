"""Every `ganlab-*` command README.md and docs/*.md show still works: a renamed key,
group, flag or choice fails here instead of in a reader's terminal.

ganlab-train commands are checked as ganlab-train checks them before Hydra starts (every
value of every override composed and validated); the other commands run, as a reader
would run them, against a store this module fills first (a sweep in `loss_zoo_ring8`,
runs in `ganlab` and `mmnsat_paper`, one with snapshots), and must end with exit 0 and no
traceback, or with exactly the refusal the page shows. Placeholders (`<parent run id>`,
`<run id>`, `3f2a...`, a sweep folder) stand for that store's ids and folders; commands
that need something this machine cannot have (a plugin's loss, a folder of images) or
that train for hours are set apart in NOT_RUNNABLE with the reason (no skips: CI runs
every check).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ganlab.core.paths import PROJECT_ROOT
from tests.conftest import run_cli
from tests.support import check_command_line

pytestmark = pytest.mark.slow

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
NOT_RUNNABLE = {
    "loss=my_loss": "the guide's example plugin is not installed here",
    "dataset.path=/data/faces": "a folder of the reader's own images",
    "trainer.resume=": "resumes a run the reader has",
    # these train: the whole catalogue or the rewind pairs for hours; the quick benchmark
    # runs in tests/test_benchmark.py
    "ganlab-benchmark collapse --quick": "trains (tests/test_benchmark.py runs it)",
    "ganlab-benchmark collapse --rewind": "trains both arms of every pair (hours)",
}
TRAINS_THE_CATALOGUE = "ganlab-benchmark collapse"  # exactly: trains what the set lacks


def documented_commands() -> list[tuple[str, str, str | None]]:
    """(page, command, the error the page shows it answering, or None) for every command
    line in a code block of the pages."""
    found: list[tuple[str, str, str | None]] = []
    for page in PAGES:
        in_block = False
        pending = ""
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                in_block = not in_block
                continue
            if not in_block:
                continue
            text = pending + re.split(r"\s#\s", line)[0].strip()
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            text = re.sub(r"^(\$ |\.venv/bin/)", "", text)
            error = re.match(r"ganlab-[a-z]+: error: (.*)", text)
            if error and found and found[-1][0] == page.name and found[-1][2] is None:
                found[-1] = (found[-1][0], found[-1][1], error.group(1))  # shown refused
            elif re.match(r"ganlab-[a-z]+( |$)", text):
                found.append((page.name, text, None))
    return found


ALL_COMMANDS = documented_commands()
COMMANDS = [
    (page, command, error)
    for page, command, error in ALL_COMMANDS
    if not any(marker in command for marker in NOT_RUNNABLE)
]


def test_the_pages_show_commands_and_each_exception_is_still_needed() -> None:
    assert len(COMMANDS) > 40
    for marker in NOT_RUNNABLE:  # an exception no page needs any more goes
        assert any(marker in command for _, command, _ in ALL_COMMANDS), marker
    assert {c.split()[0] for _, c, _ in COMMANDS} >= {
        "ganlab-train",
        "ganlab-compare",
        "ganlab-replay",
        "ganlab-eval",
        "ganlab-benchmark",
        "ganlab-rerun",
        "ganlab-study",
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, str]:
    """A store as a reader's would be after the pages' training commands: a sweep of two
    losses x two seeds (loss_zoo_ring8), a grid25 run with snapshots every 10 epochs
    (ganlab), two MM-nsat paper-style runs (mmnsat_paper). Its ids and folders."""
    from mlflow.tracking import MlflowClient

    from tests.conftest import TINY

    folder = tmp_path_factory.mktemp("lab")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "GANLAB_ROOT": str(folder)}
    small = [*TINY, "trainer.epochs=4", f"tracking.uri={uri}", "early_stop.action=record"]
    sweep_dir = folder / "multirun" / "sweep"
    done = run_cli(
        ["-m", *small, "tracking.experiment=loss_zoo_ring8", "loss=ns,hinge", "seed=0,1",
         f"hydra.sweep.dir={sweep_dir}"],
        folder,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    snapshots = [
        *small,
        "dataset=grid25",
        "trainer.epochs=20",
        "trainer.snapshot_every_n_epochs=10",
        "tracking.experiment=ganlab",
    ]
    assert run_cli(snapshots, folder, env=env).returncode == 0
    for loss in ("ns", "mm_nsat"):
        paper = [*small, f"loss={loss}", "tracking.experiment=mmnsat_paper"]
        assert run_cli(paper, folder, env=env).returncode == 0
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("ganlab").experiment_id])
    sweeps = client.search_runs(
        [client.get_experiment_by_name("loss_zoo_ring8").experiment_id],
        "tags.`ganlab.role` = 'sweep'",
    )
    return {
        "uri": uri,
        "folder": str(folder),
        "run": runs[0].info.run_id,
        "parent": sweeps[0].info.run_id,
        "sweep_dir": str(sweep_dir),
    }


def placeholders(command: str, lab: dict[str, str]) -> str:
    """The page's placeholders replaced by the store's ids and folders."""
    command = re.sub(r"<parent[^>]*>", lab["parent"], command)
    command = re.sub(r"<[^>]*>", lab["run"], command)
    command = re.sub(r"\b[0-9a-f]{4}\.\.\.", lab["run"], command)
    return re.sub(r"multirun/\d{4}-\d\d-\d\d/[\d-]+", lab["sweep_dir"], command)


@pytest.mark.parametrize(("page", "command", "error"), COMMANDS, ids=[c for _, c, _ in COMMANDS])
def test_a_documented_command_works(page, command, error, lab, tmp_path: Path) -> None:
    """...with exit 0 and no traceback, and a command a page shows being refused is
    refused with what the page shows."""
    words = shlex.split(placeholders(command, lab))
    name, args = words[0], words[1:]
    if name == "ganlab-train":
        problem = check_command_line([a for a in args if a not in ("--cfg", "job")])
        if error is None:
            assert problem is None, f"{page}: `{command}`: {problem}"
        else:  # the page may cut the message short with "..."
            assert problem is not None and problem.startswith(error.removesuffix("...").strip())
        return
    if command.strip() == TRAINS_THE_CATALOGUE:
        args.append("--score-only")  # the same command once the set is complete (it is)
    if "--tracking-uri" not in args and name not in ("ganlab-prepare", "ganlab-study"):
        args += ["--tracking-uri", lab["uri"]]
    env = {"MLFLOW_TRACKING_URI": lab["uri"], "GANLAB_ROOT": lab["folder"]}
    # the pages speak from a clone's root (benchmarks/...): the same paths work here
    (tmp_path / "benchmarks").symlink_to(PROJECT_ROOT / "benchmarks")
    result = run_cli(args, tmp_path, command=name, timeout=600, env=env)
    assert "Traceback" not in result.stderr, f"{page}: `{command}`: {result.stderr[-1500:]}"
    if error is None:
        assert result.returncode == 0, f"{page}: `{command}`: {result.stderr[-1500:]}"
    else:
        shown = error.removesuffix("...").strip().replace("3f2a...", lab["run"])
        assert result.returncode == 2, f"{page}: `{command}`: {result.stderr[-500:]}"
        assert placeholders(shown, lab) in result.stderr, result.stderr[-500:]
