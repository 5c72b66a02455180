"""`ganlab-replay`: judge a stopping rule on stored runs, without retraining.

Reads each run's metric history from the tracking store, applies a rule (any
`early_stop.*` parameters, given as KEY=VALUE), and compares the epoch a stop at its
trigger keeps (the best so far: every run keeps its best weights) with the oracle's (the
best of the whole run). Regret = quality at the oracle epoch - quality kept; epochs saved
= last epoch - trigger epoch. Never stopping keeps the oracle epoch (regret 0): a stop is
worth the epochs it saves only at a small regret. quality (final) is what training to the end
without keeping the best would give. Comma-separated values form a grid, ranked by
median regret, then mean regret, then epochs saved. Judging rules on *labelled* runs
(caught collapses, false alarms, failing runs) is `ganlab-benchmark collapse`'s job.

    ganlab-replay --experiment loss_zoo_ring8
    ganlab-replay --experiment loss_zoo_ring8 rule=duality_gap dg_tol=0.25,0.5,1
    ganlab-replay --experiment loss_zoo_ring8 rule=combined shift_up=2,3,4 --markdown t.md
    ganlab-replay --experiment loss_zoo_ring8 --experiment loss_zoo_grid25 --by dataset
    ganlab-replay --trajectories benchmarks/collapse/trajectories.parquet escalation=1,2,3
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ganlab.config import DEFAULT_RULE, EarlyStopConfig, register, rule_config_class
from ganlab.core.errors import ConfigError, GanlabError
from ganlab.core.paths import check_writable, project_root
from ganlab.core.secrets import clean_command_line
from ganlab.registry import RULES
from ganlab.rules.rule import rule_config
from ganlab.rules.verdict import Verdict, verdict
from ganlab.study.tables import fmt, markdown_table
from ganlab.tracking import StoredRun, check_tracking, load_runs, resolve_tracking_uri


def parse_grid(assignments: Sequence[str]) -> list[EarlyStopConfig]:
    """['tau=0.5,1', 'rule=gradient'] -> the rule's settings for each combination, each
    validated against that rule's own dataclass (the default rule when none is named)."""
    known = {f.name for entry in RULES.entries() for f in dataclasses.fields(entry.value.config)}
    axes: list[tuple[str, list[str]]] = []
    for item in assignments:
        key, sep, values = item.partition("=")
        key = key.removeprefix("early_stop.")
        if not sep or key not in known:
            raise ConfigError(
                f"'{item}' is not an early_stop setting; use KEY=VALUE with KEY one of: "
                f"{', '.join(sorted(known))}."
            )
        axes.append((key, values.split(",")))
    configs = []
    for combo in itertools.product(*(values for _, values in axes)):
        chosen = dict(zip((key for key, _ in axes), combo, strict=True))
        rule = chosen.pop("rule", DEFAULT_RULE)
        cls = rule_config_class(rule)
        dotlist = [f"{key}={value}" for key, value in chosen.items()]
        try:
            merged = OmegaConf.merge(
                OmegaConf.structured(cls(rule=rule)), OmegaConf.from_dotlist(dotlist)
            )
            configs.append(OmegaConf.to_object(merged))
        except OmegaConfBaseException as exc:
            key = str(getattr(exc, "full_key", None) or "?")
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(
                    f"{key} is not a setting of rule={rule}; name the rule whose setting it "
                    "is (rule=...)."
                ) from exc
            expected = type(getattr(cls(rule=rule), key, "")).__name__
            raise ConfigError(
                f"early_stop.{key}={chosen.get(key, '?')!r} is not a valid value; it must be "
                f"a {expected}."
            ) from exc
    return configs  # type: ignore[return-value]


def describe(cfg: EarlyStopConfig, varied: Sequence[str]) -> str:
    return " ".join(f"{k}={getattr(cfg, k)}" for k in ("rule", *varied))


@dataclass(frozen=True)
class Summary:
    """A rule's results over a group of runs, kept as numbers until printed."""

    label: str
    group: str
    verdicts: tuple[Verdict, ...]

    @property
    def median_regret(self) -> float:
        return statistics.median(v.regret for v in self.verdicts)

    @property
    def mean_regret(self) -> float:
        return statistics.fmean(v.regret for v in self.verdicts)

    @property
    def epochs_saved(self) -> float:
        return statistics.fmean(v.epochs_saved for v in self.verdicts)

    def cells(self) -> list[str]:
        n = len(self.verdicts)
        return [
            self.label,
            self.group,
            str(n),
            fmt(self.median_regret),
            fmt(self.mean_regret),
            fmt(statistics.fmean(v.kept_epoch for v in self.verdicts), 1),
            fmt(sum(v.trigger_epoch is not None for v in self.verdicts) / n, 2),
            fmt(sum(v.failing_epoch is not None for v in self.verdicts) / n, 2),
            fmt(self.epochs_saved, 1),
        ]


SUMMARY_HEADER = [
    "rule",
    "group",
    "runs",
    "median regret",
    "mean regret",
    "mean kept epoch",
    "triggered",
    "marked failing",
    "mean epochs saved",
]
RUN_HEADER = [
    "run",
    "id",
    "group",
    "trigger",
    "cause",
    "failing from",
    "kept",
    "oracle",
    "quality (kept)",
    "quality (best)",
    "quality (final)",
    "regret",
    "saved",
]
NEVER_STOP = "never stop (baseline)"
SERVER_TIMEOUT = 5.0  # seconds a tracking server gets to answer /health


def judged(runs: Sequence[StoredRun], cfg: EarlyStopConfig) -> list[tuple[StoredRun, Verdict]]:
    """Runs with a verdict under `cfg` (runs that logged no quality are left out)."""
    out = []
    for run in runs:
        v = verdict(run.history, cfg)
        if v is not None:
            out.append((run, v))
    return out


def per_run_rows(runs: Sequence[StoredRun], cfg: EarlyStopConfig, group_by: str) -> list[list[str]]:
    return [
        [
            run.name,
            run.run_id[:8],
            run.tags.get(group_by, "?"),
            fmt(v.trigger_epoch),
            v.cause or "-",
            fmt(v.failing_epoch),
            str(v.kept_epoch),
            str(v.oracle_epoch),
            fmt(v.quality_kept),
            fmt(v.quality_at_oracle),
            fmt(v.final_quality),
            fmt(v.regret),
            str(v.epochs_saved),
        ]
        for run, v in judged(runs, cfg)
    ]


def summaries(
    runs: Sequence[StoredRun], cfg: EarlyStopConfig, group_by: str, label: str
) -> list[Summary]:
    """One summary per group and one over all runs (group '**all**')."""
    groups: dict[str, list[Verdict]] = {}
    for run, v in judged(runs, cfg):
        groups.setdefault(run.tags.get(group_by, "?"), []).append(v)
    out = [Summary(label, name, tuple(vs)) for name, vs in sorted(groups.items())]
    everything = tuple(v for vs in groups.values() for v in vs)
    if everything:
        out.append(Summary(label, "**all**", everything))
    return out


def ranking(s: Summary) -> tuple[float, float, float]:
    """Lowest median regret first; ties (common: most runs never collapse for good, so
    many settings stop nowhere harmful) go to the lower mean regret, then to the setting
    that saves more epochs."""
    return s.median_regret, s.mean_regret, -s.epochs_saved


def tolerant_ranking(
    baseline_median: float, tolerance: float
) -> Callable[[Summary], tuple[bool, float, float, float]]:
    """Settings that do no harm on typical runs first (median regret within `tolerance`
    of never stopping), best tail (lowest mean regret) among them; then the others."""

    def key(s: Summary) -> tuple[bool, float, float, float]:
        harmful = s.median_regret > baseline_median + tolerance + 1e-12
        return harmful, s.mean_regret, s.median_regret, -s.epochs_saved

    return key


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganlab-replay",
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("settings", nargs="*", help="early_stop KEY=VALUE[,VALUE...]")
    parser.add_argument("--tracking-uri", help="default: tracking.uri resolution of ganlab-train")
    parser.add_argument(
        "--experiment",
        action="append",
        help="MLflow experiment (default: ganlab); repeat it to judge runs of several together",
    )
    parser.add_argument(
        "--filter", default="", help="MLflow search filter, e.g. \"tags.loss='ns'\""
    )
    parser.add_argument("--run-id", action="append", default=[], help="only these runs")
    parser.add_argument(
        "--trajectories",
        type=Path,
        help="judge the runs of a trajectory set (the collapse benchmark's: "
        "benchmarks/collapse/trajectories.parquet) instead of a tracking store: its "
        "tuning split only, since held-out scores are looked at through ganlab-benchmark "
        "collapse --holdout, which logs each look",
    )
    parser.add_argument(
        "--by",
        help="tag to group runs by (default: loss; benchmark.scenario with --trajectories)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        help="rank a grid by mean regret among settings whose median regret is within this "
        "of never stopping",
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--figures", type=Path, help="write a phase figure per run here")
    return parser


def stored_runs(args: argparse.Namespace) -> tuple[list[Any], str]:
    """The ended runs of the tracking store `args` select, and where they came from."""
    uri = resolve_tracking_uri(args.tracking_uri, project_root())
    check_tracking(uri, False, SERVER_TIMEOUT)  # a dead server: one line, not a hang
    experiments = args.experiment or ["ganlab"]
    runs = [
        run
        for experiment in experiments
        for run in load_runs(uri, experiment, args.filter, args.run_id)
        if run.tags.get("ganlab.role") is None  # sweep and benchmark parents
    ]
    missing = sorted(set(args.run_id) - {run.run_id for run in runs})
    if missing:
        raise GanlabError(
            f"no finished run {', '.join(missing)} in experiment "
            f"{', '.join(experiments)} of {uri}; check --run-id and --experiment."
        )
    return runs, f"experiment {', '.join(experiments)} of {uri}"


def tuning_runs(path: Path, names: Sequence[str]) -> list[Any]:
    """The tuning split of a trajectory set (`names`: only these runs, by run name or
    MLflow run id); a run of another split named here is refused, not shown."""
    from ganlab.study.trajectories import read

    everything = read(path)
    wanted = set(names)
    chosen = [t for t in everything if not wanted or wanted & {t.run, t.run_id}]
    unseen = sorted(t.run for t in chosen if t.split != "tune")
    if wanted and unseen:
        raise GanlabError(
            f"{', '.join(unseen)}: held-out or confirmation runs, whose scores "
            "are looked at only through `ganlab-benchmark collapse --holdout` (or "
            "--confirm), which logs each look."
        )
    missing = sorted(wanted - {n for t in chosen for n in (t.run, t.run_id)})
    if missing:
        raise GanlabError(f"no run {', '.join(missing)} in {path}; check --run-id.")
    return [t for t in chosen if t.split == "tune"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(clean_command_line("ganlab-replay", argv))
    register()
    try:
        if args.tolerance is not None and args.tolerance < 0:
            raise ConfigError(f"--tolerance must be >= 0, got {args.tolerance}.")
        if args.markdown is not None:  # before any run is read
            check_writable(args.markdown.parent, "--markdown")
        if args.figures is not None:
            check_writable(args.figures, "--figures")
        configs = parse_grid(args.settings)
        if args.trajectories is not None:
            runs, where = tuning_runs(args.trajectories, args.run_id), str(args.trajectories)
            args.by = args.by or "benchmark.scenario"
        else:
            runs, where = stored_runs(args)
            args.by = args.by or "loss"
    except GanlabError as exc:
        print(f"ganlab-replay: error: {exc}", file=sys.stderr)
        return 2
    if not runs:
        print(
            f"ganlab-replay: no finished runs in {where}"
            + (f" matching {args.filter!r}" if args.filter else ""),
            file=sys.stderr,
        )
        return 1
    varied = sorted(
        {s.partition("=")[0].removeprefix("early_stop.") for s in args.settings} - {"rule"}
    )
    out: list[str] = []
    if len(configs) == 1:
        cfg = configs[0]
        out += [
            f"rule: {describe(cfg, varied)}",
            "",
            markdown_table(RUN_HEADER, per_run_rows(runs, cfg, args.by)),
            "",
        ]
    rows: list[Summary] = []
    for cfg in configs:
        rows += summaries(runs, cfg, args.by, describe(cfg, varied))
    # what every rule must beat: training to the end (regret of the last epoch)
    baseline = summaries(runs, rule_config("none"), args.by, NEVER_STOP)
    if len(configs) > 1 and baseline:  # best settings first, judged on all runs together
        key = (
            ranking
            if args.tolerance is None
            else tolerant_ranking(baseline[-1].median_regret, args.tolerance)
        )
        rows = sorted((r for r in rows if r.group == "**all**"), key=key)
    rows += baseline if len(configs) == 1 else baseline[-1:]
    header = ["rule", args.by, *SUMMARY_HEADER[2:]]
    out.append(markdown_table(header, [r.cells() for r in rows]))
    text = "\n".join(out)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.figures:
        from ganlab.rules.figure import rule_figure

        args.figures.mkdir(parents=True, exist_ok=True)
        for run in runs:
            figure = rule_figure(run.history, configs[0], f"{run.name} ({run.run_id[:8]})")
            figure.savefig(args.figures / f"{run.name}-{run.run_id[:8]}.png")
    return 0


def cli() -> None:
    sys.exit(main())
