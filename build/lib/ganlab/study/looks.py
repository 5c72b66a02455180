"""Looks at sealed scores: the one way to score held-out, confirmation or natural runs.

A held-out split protects a choice only while its scores have not steered it, so every
score of a sealed split (`SEALED_SPLITS`), whatever the command, catalogue, trajectory
set, output folder or caller, goes through `reveal`, which first appends the look to a
log: when, at which commit, what was looked at, the command, and sha256 pins of what
produced the numbers (`Pins`: the sealed rule's code, i.e. its module and the modules of
ganlab/rules it imports, its settings, the labels, the learned model and the trajectory
set). A test (`tests/test_looks.py`) reads the project's log
against git: every commit exists and is older than its look, and every pin matches the
files at that commit. So a look cannot be made on code that was never committed: for the
project's log, `reveal` refuses while any pinned file differs from HEAD.

Where the log goes: the project's `docs/collapse-looks.md` in a clone; in a test, the
file named by `GANLAB_TEST_LOOK_LOG` (its header says it is a test's, not the project's
record); in an installed package without the docs folder, `~/.ganlab/collapse-looks.md`.

The seal (benchmarks/collapse/choice.json) keeps the same pins, with a digest of the
tuning runs the choice saw (`tuning_digest`); `seal_differences` says what has changed
since, and the report's first line repeats it.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import json
import math
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ganlab.config import EarlyStopConfig
from ganlab.core.errors import GanlabError
from ganlab.core.paths import PROJECT_ROOT
from ganlab.rules.library.learned import SHIPPED_MODEL
from ganlab.study.trajectories import repository_commit

SEALED_SPLITS = ("holdout", "confirm", "natural")
LOOK_LOG = PROJECT_ROOT / "docs" / "collapse-looks.md"
TEST_LOG_ENV = "GANLAB_TEST_LOOK_LOG"
USER_LOG = Path.home() / ".ganlab" / "collapse-looks.md"

# the rule's code: its module in the library and the modules of ganlab/rules it imports
RULE_LIBRARY = "ganlab/rules/library"
RULES_PACKAGE = "ganlab.rules."
LABELS_CODE = "ganlab/study/labels.py"
PIN_LENGTH = 16  # hex digits of each sha256 the log keeps (64 bits)
OUTSIDE = "outside the repository"  # where a pinned file lies that git cannot check

TABLE_HEADER = (
    "| when (UTC) | commit | what was looked at | command | rule code | settings | labels "
    "| learned model | trajectories |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)
PROJECT_HEADER = """# Looks at the collapse benchmark's sealed scores

Every score of a held-out, confirmation or natural run is computed after a line is
appended here, by the code itself (`ganlab.study.looks.reveal`), whatever the command.
Each line names the commit it was made at and sha256 pins (first 16 hex digits) of what
produced the numbers: the sealed rule's code (its module and the modules of ganlab/rules
it imports), its settings (from the seal file named), the labels (ganlab/study/labels.py
with the catalogue named), the learned model and the trajectory set named.
`tests/test_looks.py` checks every line against git. docs/collapse.md, "The splits and
the sealed protocol", says why.

"""
TEST_HEADER = """# Looks made by a test or a scratch study: NOT the project's record

"""


class LookError(GanlabError):
    """A look that cannot be logged truthfully (the pinned files are not committed)."""


# -- what the pins hash ------------------------------------------------------------------
class Tree:
    """The repository's files as of now (the working tree) or as of a commit."""

    def __init__(self, commit: str | None = None, root: Path = PROJECT_ROOT) -> None:
        self.commit = commit
        self.root = root

    def read(self, path: str) -> bytes:
        if self.commit is None:
            return (self.root / path).read_bytes()
        return self._git("show", f"{self.commit}:{path}")

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, check=True, timeout=60
        ).stdout


def digest(parts: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over named byte strings, in name order (names and lengths included)."""
    h = hashlib.sha256()
    for name, data in sorted(parts):
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def rule_code_paths(tree: Tree, rule: str) -> list[str]:
    """The rule's module and every module of ganlab.rules it imports, directly or not
    (read from the source: `from ganlab.rules.x import ...`), as repository paths."""
    start = f"{RULE_LIBRARY}/{rule}.py"
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(tree.read(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(RULES_PACKAGE):
                todo.append(node.module.replace(".", "/") + ".py")  # type: ignore[union-attr]
    return sorted(seen)


def rule_code_digest(tree: Tree, rule: str) -> str:
    """sha256 of the code that decides what `rule` decides (rule_code_paths)."""
    return digest((p, tree.read(p)) for p in rule_code_paths(tree, rule))


def labels_digest(tree: Tree, catalogue: bytes) -> str:
    """The labeller's code and the catalogue that assigns splits and label thresholds."""
    return digest([(LABELS_CODE, tree.read(LABELS_CODE)), ("catalogue", catalogue)])


def settings_digest(rule: EarlyStopConfig | Mapping[str, Any]) -> str:
    """The rule and every setting that changes what it decides (not `action`, `rewind`:
    a replay decides the same under any action), as choice.json keeps them: from a
    config, or from the `rule` object of a choice.json (a seal at an older commit)."""
    settings = dict(asdict(rule) if isinstance(rule, EarlyStopConfig) else rule)
    settings = {k: v for k, v in settings.items() if k not in ("action", "rewind")}
    if settings.get("model") and Path(settings["model"]).resolve() == SHIPPED_MODEL.resolve():
        settings["model"] = ""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def runs_digest(runs: Sequence[Any]) -> str:
    """The histories of `runs` (trajectories or labelled runs), exactly: every epoch,
    key and float (as hex)."""
    h = hashlib.sha256()
    for run in sorted(runs, key=lambda r: r.name):
        h.update(run.name.encode() + b"\0")
        for epoch, metrics in run.history:
            h.update(f"{epoch}:".encode())
            for key in sorted(metrics):
                value = float(metrics[key])
                h.update(f"{key}={value.hex() if math.isfinite(value) else value};".encode())
    return h.hexdigest()


def repo_path(path: Path) -> str | None:
    """`path` relative to the repository, or None when it lies outside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Pins:
    """sha256 of what produced a score (full digests; the log keeps PIN_LENGTH of each)."""

    rule_code: str
    settings: str
    labels: str
    learned_model: str
    trajectories: str


def code_pins(rule: EarlyStopConfig, catalogue: Path, model: Path) -> dict[str, str]:
    """The pins a look and a seal share: the rule's code and settings, the labels (with
    `catalogue`) and the learned model (`model`), as the working tree has them."""
    tree = Tree()
    return {
        "rule_code": rule_code_digest(tree, rule.rule),
        "settings": settings_digest(rule),
        "labels": labels_digest(tree, catalogue.read_bytes()),
        "learned_model": file_digest(model.read_bytes()) if model.is_file() else "",
    }


def pins_now(rule: EarlyStopConfig, trajectories: Path, catalogue: Path) -> Pins:
    return Pins(
        **code_pins(rule, catalogue, SHIPPED_MODEL),
        trajectories=file_digest(trajectories.read_bytes()),
    )


# -- the log ----------------------------------------------------------------------------
def log_path() -> tuple[Path, bool]:
    """Where looks go now, and whether that is the project's own record."""
    if os.environ.get(TEST_LOG_ENV):
        return Path(os.environ[TEST_LOG_ENV]), False
    if LOOK_LOG.parent.is_dir():
        return LOOK_LOG, True
    return USER_LOG, False


def changed_since_head(paths: Sequence[str], root: Path = PROJECT_ROOT) -> list[str]:
    """Which of the repository `paths` differ from HEAD (or are not in it)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", *paths],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return sorted({line[3:] for line in out.stdout.splitlines() if line.strip()})


@dataclass(frozen=True)
class LookContext:
    """What a look is made with: the command, the sealed rule (from the seal file
    `seal`), the files scored."""

    command: str
    rule: EarlyStopConfig
    seal: Path
    trajectories: Path
    catalogue: Path


def log_look(what: str, context: LookContext) -> Path:
    """Append one look to the log (see the module); return the log's path."""
    path, project = log_path()
    commit = repository_commit()
    pins = pins_now(context.rule, context.trajectories, context.catalogue)
    sources = [repo_path(p) for p in (context.seal, context.catalogue, context.trajectories)]
    if project and commit:
        pinned = [*rule_code_paths(Tree(), context.rule.rule), LABELS_CODE]
        pinned.append(str(repo_path(SHIPPED_MODEL)))
        pinned += [p for p in sources if p]
        changed = changed_since_head(pinned)
        if changed:
            raise LookError(
                "a look names the commit it scored, and these pinned files differ from it: "
                f"{', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}; commit them "
                "first (or score the tuning split only)."
            )
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((PROJECT_HEADER if project else TEST_HEADER) + TABLE_HEADER)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    seal_at, catalogue_at, trajectories_at = (p or OUTSIDE for p in sources)
    cells = [
        stamp,
        commit[:12] or "-",
        what.replace("|", "/"),
        f"`{context.command.replace('|', '/')}`",
        pins.rule_code[:PIN_LENGTH],
        f"{pins.settings[:PIN_LENGTH]} {seal_at}",
        f"{pins.labels[:PIN_LENGTH]} {catalogue_at}",
        pins.learned_model[:PIN_LENGTH],
        f"{pins.trajectories[:PIN_LENGTH]} {trajectories_at}",
    ]
    with path.open("a") as handle:
        handle.write("| " + " | ".join(cells) + " |\n")
    return path


def reveal(
    runs: Sequence[Any],
    splits: Sequence[str],
    what: str,
    context: LookContext,
    report: Callable[[str], None] = print,
) -> dict[str, list[Any]]:
    """The runs of each sealed split in `splits` (runs with a `.split`), after logging the
    look; nothing is logged when none of them holds a run."""
    shown = {split: [r for r in runs if r.split == split] for split in splits}
    looked = [split for split, members in shown.items() if members]
    unknown = set(splits) - set(SEALED_SPLITS)
    if unknown:
        raise ValueError(f"not a sealed split: {sorted(unknown)}")
    if looked:
        path = log_look(f"{' + '.join(looked)}: {what}", context)
        report(f"look logged in {path}")
    return shown


# -- the log, read back (tests/test_looks.py) ---------------------------------------------
@dataclass(frozen=True)
class LoggedLook:
    """One line of the log: its pins as (hash prefix, repository path or None)."""

    when: datetime.datetime
    commit: str
    what: str
    command: str
    rule_code: str
    settings: tuple[str, str | None]  # of the seal file's rule
    labels: tuple[str, str | None]  # with the catalogue
    learned_model: str
    trajectories: tuple[str, str | None]


def _pin(cell: str) -> tuple[str, str | None]:
    value, _, where = cell.partition(" ")
    return value, None if where in ("", OUTSIDE) else where


def read_log(path: Path) -> list[LoggedLook]:
    """The looks of a log written by `log_look` (the rows of its pinned table; the
    older rows before pins, with fewer columns, are not looks it can check)."""
    looks = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("| ") or len(cells) != 9 or not cells[0][:4].isdigit():
            continue
        looks.append(
            LoggedLook(
                when=datetime.datetime.strptime(cells[0], "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc
                ),
                commit=cells[1],
                what=cells[2],
                command=cells[3].strip("`"),
                rule_code=cells[4],
                settings=_pin(cells[5]),
                labels=_pin(cells[6]),
                learned_model=cells[7],
                trajectories=_pin(cells[8]),
            )
        )
    return looks


# -- the seal's pins ----------------------------------------------------------------------
def seal_pins(
    rule: EarlyStopConfig,
    tuning_runs: Sequence[Any],
    catalogue: Path,
    model: Path = SHIPPED_MODEL,
) -> dict[str, str]:
    """What choice.json pins: the chosen rule's code and settings, the labels, the learned
    model, and the tuning runs the choice saw."""
    return {**code_pins(rule, catalogue, model), "tuning_runs": runs_digest(tuning_runs)}


SEAL_PIN_NAMES = {
    "rule_code": "the rule's code",
    "settings": "the shipped default rule's settings",
    "labels": "the labels (ganlab/study/labels.py and the catalogue)",
    "learned_model": "the learned model",
    "tuning_runs": "the tuning runs",
}


def seal_differences(sealed: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """What differs from the seal, in words ([] when everything is as sealed)."""
    return [
        SEAL_PIN_NAMES.get(key, key)
        for key in SEAL_PIN_NAMES
        if key in sealed and sealed[key] != now.get(key)
    ]
