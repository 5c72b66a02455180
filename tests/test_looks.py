"""The seal: every score of a sealed split is a logged look, the project's log agrees with
git, the seal pins what the choice was made with, and the protocol gives choice.json back."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ganlab.core.paths import PROJECT_ROOT
from ganlab.rules import rule_config
from ganlab.rules.library.learned import SHIPPED_NO_QUALITY_MODEL
from ganlab.study import looks
from ganlab.study.catalogue import CATALOGUE_FILE, load_catalogue
from ganlab.study.looks import (
    LOOK_LOG,
    LookContext,
    LookError,
    Tree,
    digest,
    file_digest,
    labels_digest,
    read_log,
    rule_code_digest,
    settings_digest,
)
from ganlab.study.protocol import FAMILIES, NO_QUALITY_SEAL_PATH, SEAL_PATH, read_seal
from ganlab.study.trajectories import DEFAULT_PATH, read, write


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_the_project_look_log_agrees_with_git() -> None:
    """Every look names a commit that exists and is older than the look, and every pin
    is the sha256 of the files at that commit (a look written by hand, or made on code
    that was never committed, fails here)."""
    logged = read_log(LOOK_LOG)
    assert logged, "the project's log holds no pinned look"
    for look in logged:
        assert look.commit != "-", look
        committed = int(git("log", "-1", "--format=%ct", look.commit))
        assert datetime.fromtimestamp(committed, timezone.utc) <= look.when, look
        tree = Tree(look.commit)
        model = str(looks.repo_path(looks.SHIPPED_MODEL))
        assert file_digest(tree.read(model)).startswith(look.learned_model), look
        value, catalogue = look.labels
        assert catalogue is not None, f"{look}: its catalogue lies outside the repository"
        assert labels_digest(tree, tree.read(catalogue)).startswith(value), look
        value, seal = look.settings
        assert seal is not None, f"{look}: its seal lies outside the repository"
        rule = json.loads(tree.read(seal))["rule"]  # as that commit's code wrote it
        assert settings_digest(rule).startswith(value), look
        assert rule_code_digest(tree, rule["rule"]).startswith(look.rule_code), look
        value, trajectories = look.trajectories
        assert trajectories is not None, f"{look}: its runs lie outside the repository"
        assert file_digest(tree.read(trajectories)).startswith(value), look


def small_set(tmp_path: Path) -> Path:
    """Two tuning and two held-out runs of the shipped set."""
    shipped = read(DEFAULT_PATH)
    chosen = [t for t in shipped if t.split == "tune"][:2]
    chosen += [t for t in shipped if t.split == "holdout"][:2]
    path = tmp_path / "small.parquet"
    write(chosen, path)
    return path


def test_held_out_scores_are_a_logged_look_whatever_the_catalogue_or_folder(
    tmp_path, test_look_log, capsys
) -> None:
    """The bypass of a copied catalogue (or another --out) is closed: the look goes to the
    one log (here the test's own, marked as a test's)."""
    from ganlab.launch.studies.benchmark import main as benchmark_main

    copy = tmp_path / "my_catalogue.yaml"
    copy.write_text(CATALOGUE_FILE.read_text())
    trajectories = small_set(tmp_path)
    args = ["collapse", "--score-only", "--catalogue", str(copy), "--trajectories"]
    args += [str(trajectories), "--out", str(tmp_path / "elsewhere")]
    assert benchmark_main(args) == 0
    assert not test_look_log.exists()  # tuning scores only: no look
    assert benchmark_main([*args, "--holdout"]) == 0
    assert "| holdout |" in capsys.readouterr().out
    text = test_look_log.read_text()
    assert text.startswith(looks.TEST_HEADER)
    (look,) = read_log(test_look_log)
    assert look.what.startswith("holdout: ")
    assert look.labels[1] is None and look.trajectories[1] is None  # outside the repository
    assert look.trajectories[0] == file_digest(trajectories.read_bytes())[:16]
    assert look.labels[0] == digest(
        [(looks.LABELS_CODE, (PROJECT_ROOT / looks.LABELS_CODE).read_bytes()),
         ("catalogue", copy.read_bytes())]
    )[:16]  # fmt: skip


def test_a_look_in_the_project_log_refuses_uncommitted_pinned_files(monkeypatch) -> None:
    monkeypatch.setattr(looks, "log_path", lambda: (Path("/nonexistent/looks.md"), True))
    monkeypatch.setattr(looks, "changed_since_head", lambda paths: ["ganlab/rules/timeline.py"])
    context = LookContext("cmd", rule_config(), SEAL_PATH, DEFAULT_PATH, CATALOGUE_FILE)
    with pytest.raises(LookError, match=r"differ from it: ganlab/rules/timeline.py; commit"):
        looks.log_look("holdout: x", context)


def test_changed_files_are_found_against_head(tmp_path) -> None:
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "a.py").write_text("1")
    (tmp_path / "b.py").write_text("1")
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    assert looks.changed_since_head(["a.py", "b.py"], tmp_path) == []
    (tmp_path / "a.py").write_text("2")
    (tmp_path / "c.py").write_text("new")
    assert looks.changed_since_head(["a.py", "b.py", "c.py"], tmp_path) == ["a.py", "c.py"]


def test_every_family_of_the_protocol_names_every_setting_of_its_rule() -> None:
    """So a changed default (sealing a choice changes them) cannot change the grids."""
    for name, family in FAMILIES.items():
        assert family.unnamed() == set(), name


def test_the_seal_holds_for_the_shipped_code_and_runs() -> None:
    from ganlab.study.report import label_runs, seal_line

    catalogue = load_catalogue()
    tuning = [r for r in label_runs(read(DEFAULT_PATH), catalogue) if r.split == "tune"]
    line = seal_line(read_seal(), catalogue, tuning)
    assert line.startswith("Seal: holds"), line
    changed = tuning[:-1]  # a tuning run fewer: the runs the choice saw changed
    assert "the tuning runs differ" in seal_line(read_seal(), catalogue, changed)


@pytest.mark.slow
def test_the_protocol_gives_choice_json_back(tmp_path) -> None:
    """--choose on the shipped tuning runs seals the choice that ships, family by family
    (with every count), and fits the learned model that ships."""
    from ganlab.launch.studies.benchmark import main as benchmark_main

    copy = tmp_path / "catalogue.yaml"  # not the shipped one: the seal goes to --out
    copy.write_text(CATALOGUE_FILE.read_text())
    args = ["collapse", "--score-only", "--choose", "--catalogue", str(copy)]
    args += ["--trajectories", str(DEFAULT_PATH), "--out", str(tmp_path)]
    assert benchmark_main(args) == 0
    ours, shipped = (json.loads(p.read_text()) for p in (tmp_path / "choice.json", SEAL_PATH))
    assert ours["chosen_family"] == shipped["chosen_family"]
    assert ours["rule"] == shipped["rule"]
    for family, data in shipped["families"].items():
        setting = dict(ours["families"][family]["setting"])
        if "model" in data["setting"]:  # the learned model's path: ours is under tmp_path
            setting["model"] = data["setting"]["model"]
        assert setting == data["setting"], family
        assert ours["families"][family]["cv"] == data["cv"], family
    for pin in ("rule_code", "settings", "tuning_runs"):
        assert ours["pins"][pin] == shipped["pins"][pin], pin
    for name, shipped_file in (
        ("learned_model.json", looks.SHIPPED_MODEL),
        ("learned_model_no_quality.json", SHIPPED_NO_QUALITY_MODEL),
    ):
        model = json.loads((tmp_path / name).read_text())
        shipped_model = json.loads(shipped_file.read_text())
        assert {k: v for k, v in model.items() if k != "fitted_on"} == {
            k: v for k, v in shipped_model.items() if k != "fitted_on"
        }, name
    # and the choice among rules that read no quality, sealed apart
    ours, shipped = (
        json.loads(p.read_text())
        for p in (tmp_path / "choice_no_quality.json", NO_QUALITY_SEAL_PATH)
    )
    assert ours["chosen_family"] == shipped["chosen_family"]
    for family, data in shipped["families"].items():
        assert ours["families"][family]["cv"] == data["cv"], family
