"""Every `ganlab-*` command README.md and docs/*.md show still works: a renamed key,
group, flag or choice fails here instead of in a reader's terminal.

ganlab-train commands are checked as ganlab-train checks them before Hydra starts (every
value of every override composed and validated); the other commands are run against an
empty store and must not stop on their command line (argparse's errors), whatever they
then say about the empty store. Placeholders (`<run id>`, `3f2a...`) stand for real ids;
commands that need something this machine cannot have (a plugin's loss, a folder of
images) are set apart in NOT_RUNNABLE with the reason (no skips: CI runs every check).
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
}
ARGPARSE_ERRORS = (
    "unrecognized arguments",
    "invalid choice",
    "expected one argument",
    "the following arguments are required",
)


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


@pytest.mark.parametrize(("page", "command", "error"), COMMANDS, ids=[c for _, c, _ in COMMANDS])
def test_a_documented_command_still_works(page, command, error, tmp_path: Path) -> None:
    """...and a command a page shows being refused is refused with what the page shows."""
    run_id = "0123456789abcdef0123456789abcdef"
    words = [run_id if "..." in w else w for w in shlex.split(re.sub(r"<[^>]*>", run_id, command))]
    name, args = words[0], words[1:]
    if name == "ganlab-train":
        problem = check_command_line([a for a in args if a not in ("--cfg", "job")])
        if error is None:
            assert problem is None, f"{page}: `{command}`: {problem}"
        else:  # the page may cut the message short with "..."
            assert problem is not None and problem.startswith(error.removesuffix("...").strip())
        return
    if name in ("ganlab-benchmark", "ganlab-study") and "collapse" in args:
        args += ["--score-only", "--trajectories", str(tmp_path / "none.parquet")]
    if "--tracking-uri" not in args and name != "ganlab-prepare":
        args += ["--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}"]
    result = run_cli(args, tmp_path, command=name, timeout=120)
    for usage_error in ARGPARSE_ERRORS:
        assert usage_error not in result.stderr, f"{page}: `{command}`: {result.stderr[-500:]}"
