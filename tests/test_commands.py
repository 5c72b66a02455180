"""Every command a user types: --help answers, the ganlab-study dispatcher hands each
subcommand its own arguments, and a wrong subcommand is one line."""

from __future__ import annotations

import pytest
import tomllib

from ganlab.core.paths import PROJECT_ROOT
from tests.conftest import run_cli

SCRIPTS = sorted(tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"])


@pytest.mark.parametrize("command", SCRIPTS)
def test_every_command_answers_help(command: str, tmp_path) -> None:
    result = run_cli(["--help"], tmp_path, command=command)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout + result.stderr
    assert text.strip(), command
    # it says what it is for, under its own name (ganlab-train shows Hydra's help)
    assert command in text or "Powered by Hydra" in text, text[:300]


@pytest.mark.parametrize("subcommand", ["compare", "replay", "rerun", "benchmark"])
def test_ganlab_study_hands_each_subcommand_its_arguments(subcommand: str, tmp_path) -> None:
    result = run_cli([subcommand, "--help"], tmp_path, command="ganlab-study")
    alias = run_cli(["--help"], tmp_path, command=f"ganlab-{subcommand}")
    assert result.returncode == 0 and alias.returncode == 0
    usage = alias.stdout.split("\n\n")[1] if "\n\n" in alias.stdout else alias.stdout
    assert usage.strip() and usage.strip() in result.stdout  # the same options, listed


def test_ganlab_study_refuses_an_unknown_subcommand_in_one_line(tmp_path) -> None:
    result = run_cli(["comapre"], tmp_path, command="ganlab-study")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown subcommand 'comapre'; choose one of: compare" in result.stderr
    bare = run_cli([], tmp_path, command="ganlab-study")
    assert bare.returncode == 2 and "ganlab-study compare" in bare.stdout
