"""The collapse benchmark's trajectory set: every catalogue run, one row per evaluation.

Training the catalogue takes hours; judging a rule on it takes seconds, because a rule is
a pure function of a run's logged history (ganlab.rules). So the benchmark keeps what
every rule, label and score reads in one columnar file that ships with the repository
(`benchmarks/collapse/trajectories.parquet`): `ganlab-benchmark collapse --score-only`
re-labels and re-scores from it on a fresh clone, without a tracking store, and a
training benchmark appends each finished run to it and trains only what it lacks.

Layout (Parquet through pyarrow; `SCHEMA_VERSION` in the file's metadata):

- run columns, repeated on each of the run's rows (dictionary-encoded, so nearly free):
  `run` (family-scenario-sSEED), `family`, `scenario`, `seed`, `split` (as the catalogue
  assigned it at export), `status`, `run_id`, `command` (the `ganlab-train` command that
  trains it again), `commit`, `ganlab_version`, `cpu` and `torch_version` (provenance: the
  code and the machine that trained it; the same commit reproduces a run bit for bit on a
  CPU of the same model with the same torch, and not on another CPU: docs/collapse.md),
  `label` and `onset_epoch` (its label when exported; scoring labels again from quality);
- `epoch`, then one float64 column per logged metric key (NaN where the key was not
  logged at that epoch), exactly as MLflow stored them.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlab.core.errors import GanlabError
from ganlab.core.paths import BENCHMARK_DATA, PROJECT_ROOT

SCHEMA_VERSION = "ganlab-trajectories/2"
# version 1 had no `cpu` and `torch_version` columns: read as '' (not recorded)
READABLE_VERSIONS = ("ganlab-trajectories/1", SCHEMA_VERSION)
DEFAULT_PATH = BENCHMARK_DATA / "trajectories.parquet"
RUN_COLUMNS = (
    "run",
    "family",
    "scenario",
    "seed",
    "split",
    "status",
    "run_id",
    "command",
    "commit",
    "ganlab_version",
    "cpu",
    "torch_version",
    "label",
    "onset_epoch",
)
INT_RUN_COLUMNS = ("seed", "onset_epoch")


class TrajectoryError(GanlabError):
    """A trajectory file that is missing or not in the expected format."""


@dataclass(frozen=True)
class Trajectory:
    """One run of the set: who it is, where it came from, and its metric history."""

    run: str
    family: str
    scenario: str
    seed: int
    split: str | None
    status: str
    run_id: str
    command: str  # the ganlab-train command that trains this run again
    commit: str
    ganlab_version: str
    label: str
    onset_epoch: int | None
    history: list[tuple[int, dict[str, float]]]
    cpu: str = ""  # the CPU model it trained on ('' when not recorded)
    torch_version: str = ""

    @property
    def name(self) -> str:  # the attribute StoredRun-based code reads
        return self.run

    @property
    def tags(self) -> dict[str, str]:
        """The benchmark tags a stored MLflow run carries, so scoring reads both alike."""
        from ganlab.study.catalogue import FAMILY_TAG, SCENARIO_TAG, SEED_TAG

        return {FAMILY_TAG: self.family, SCENARIO_TAG: self.scenario, SEED_TAG: str(self.seed)}


def to_table(trajectories: Sequence[Trajectory]) -> Any:
    """A pyarrow Table of `trajectories` (rows sorted by run, then epoch)."""
    import pyarrow as pa

    keys = sorted({k for t in trajectories for _, metrics in t.history for k in metrics})
    columns: dict[str, list[Any]] = {name: [] for name in (*RUN_COLUMNS, "epoch", *keys)}
    for t in sorted(trajectories, key=lambda t: t.run):
        for epoch, metrics in t.history:
            for name in RUN_COLUMNS:
                columns[name].append(getattr(t, name))
            columns["epoch"].append(int(epoch))
            for key in keys:
                value = metrics.get(key)
                columns[key].append(math.nan if value is None else float(value))
    fields = []
    for name in RUN_COLUMNS:
        kind = pa.int64() if name in INT_RUN_COLUMNS else pa.dictionary(pa.int32(), pa.string())
        fields.append(pa.field(name, kind))
    fields.append(pa.field("epoch", pa.int64()))
    fields += [pa.field(key, pa.float64()) for key in keys]
    schema = pa.schema(fields, metadata={"format": SCHEMA_VERSION})
    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_dictionary(field.type):
            arrays.append(
                pa.array([v if v is not None else "" for v in values]).dictionary_encode()
            )
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write(trajectories: Sequence[Trajectory], path: Path) -> None:
    """Write the set atomically (a temporary file renamed over `path`)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(to_table(trajectories), tmp, compression="zstd", compression_level=9)
    tmp.replace(path)


def read(path: Path = DEFAULT_PATH) -> list[Trajectory]:
    """Every run of the set, histories as (epoch, {key: value}) without the NaN holes."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise TrajectoryError(
            f"no trajectory set at {path}: train the catalogue with `ganlab-benchmark "
            "collapse` (it writes one), or pass --trajectories FILE."
        )
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise TrajectoryError(f"{path} is not a readable Parquet file ({exc}).") from exc
    found = (table.schema.metadata or {}).get(b"format", b"").decode()
    if found not in READABLE_VERSIONS:
        raise TrajectoryError(
            f"{path} is not a {SCHEMA_VERSION} file (found {found or 'no format'}); "
            "re-export it with this version's ganlab-benchmark."
        )
    data = table.to_pydict()
    keys = [name for name in table.column_names if name not in (*RUN_COLUMNS, "epoch")]
    by_run: dict[str, Trajectory] = {}
    for row in range(table.num_rows):
        name = data["run"][row]
        if name not in by_run:
            fields: dict[str, Any] = {
                column: data[column][row] if column in data else "" for column in RUN_COLUMNS
            }
            fields["split"] = fields["split"] or None
            by_run[name] = Trajectory(
                **fields,
                history=[],
            )
        metrics = {
            key: data[key][row]
            for key in keys
            if data[key][row] is not None and not math.isnan(data[key][row])
        }
        by_run[name].history.append((int(data["epoch"][row]), metrics))
    return list(by_run.values())


def read_or_empty(path: Path) -> list[Trajectory]:
    """The set at `path`, or no runs when there is no file yet."""
    return read(path) if path.is_file() else []


def export(uri: str, experiment: str, catalogue: Any, path: Path, commit: str = "") -> int:
    """Add the catalogue runs of `experiment` that ended (FINISHED, or FAILED on a
    numerical failure: a run that diverged is part of the catalogue) and that the set at
    `path` lacks; return how many were added. `commit` stands for the code that trained
    runs whose store did not record one (trained outside a git checkout)."""
    from ganlab.study.catalogue import FAMILY_TAG, SCENARIO_TAG, SEED_TAG
    from ganlab.tracking import load_runs

    have = read_or_empty(path)
    known = {t.run for t in have}
    found = [
        run
        for run in load_runs(uri, experiment, skip_names=known)
        if FAMILY_TAG in run.tags
        and run.status in ("FINISHED", "FAILED")
        and catalogue.job(
            run.tags[FAMILY_TAG], run.tags.get(SCENARIO_TAG, ""), int(run.tags[SEED_TAG])
        )
        is not None
    ]
    if not found:
        return 0
    write(merge(have, [from_stored(run, catalogue, commit=commit) for run in found]), path)
    return len(found)


def merge(old: Iterable[Trajectory], new: Iterable[Trajectory]) -> list[Trajectory]:
    """`old` with `new` added; a run in both is taken from `new`."""
    merged = {t.run: t for t in old}
    merged.update({t.run: t for t in new})
    return sorted(merged.values(), key=lambda t: t.run)


def repository_commit() -> str:
    """The repository's current commit (provenance of a re-export), or ''."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def from_stored(run: Any, catalogue: Any, criteria: Any = None, commit: str = "") -> Trajectory:
    """A finished catalogue run read from the tracking store, as a trajectory: its tags
    name family, scenario and seed; its overrides are the catalogue's for that job."""
    from ganlab.rules.run_quality import bounded_quality, covered_modes
    from ganlab.study.catalogue import FAMILY_TAG, SCENARIO_TAG, SEED_TAG
    from ganlab.study.labels import label_run

    family, scenario = run.tags.get(FAMILY_TAG, "?"), run.tags.get(SCENARIO_TAG, "?")
    seed = int(run.tags.get(SEED_TAG, "-1"))
    job = catalogue.job(family, scenario, seed)
    epochs, quality = bounded_quality(run.history)
    label = label_run(
        epochs,
        quality,
        criteria or catalogue.label_criteria(family),
        covered_modes(run.history, epochs),
    )
    return Trajectory(
        run=run.name,
        family=family,
        scenario=scenario,
        seed=seed,
        split=catalogue.split_of(family, seed),
        status=run.status,
        run_id=run.run_id,
        command="ganlab-train " + " ".join(job.command_overrides) if job is not None else "",
        commit=run.tags.get("mlflow.source.git.commit", "")[:12] or commit,
        ganlab_version=run.tags.get("ganlab.version", ""),
        cpu=run.tags.get("ganlab.cpu", ""),
        torch_version=run.tags.get("ganlab.torch", ""),
        label=label.label,
        onset_epoch=label.onset_epoch,
        history=[(int(e), dict(m)) for e, m in run.history],
    )
