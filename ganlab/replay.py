"""`ganlab-replay`: judge a stopping rule on stored runs, without retraining.

Reads each run's metric history from the tracking store, applies a rule (any
`early_stop.*` parameters, given as KEY=VALUE), and compares its stop epoch with the
oracle's (the epoch of best quality). Regret = quality at the oracle epoch - quality at
the rule's stop epoch (the last epoch when the rule never triggers); epochs saved = last
epoch - trigger epoch. The "never stop" rows are the baseline a rule must beat: the
regret of simply training to the end. Comma-separated values form a grid, ranked by
median regret, then mean regret, then epochs saved: that is how ganlab's default rule
parameters were chosen (README, "Choosing the rule").

    ganlab-replay --experiment loss_zoo_ring8
    ganlab-replay --experiment loss_zoo_ring8 rule=duality_gap dg_tol=0.25,0.5,1
    ganlab-replay --experiment loss_zoo_ring8 tau=0.5,1,2 beta=0,1 --markdown table.md
    ganlab-replay --experiment loss_zoo_ring8 --experiment loss_zoo_grid25 --by dataset
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from ganlab.config import EarlyStopConfig, register
from ganlab.errors import ConfigError, GanlabError
from ganlab.paths import project_root
from ganlab.phases import Judgement, judge
from ganlab.report import fmt, markdown_table
from ganlab.tracking import StoredRun, load_runs, resolve_tracking_uri


def parse_grid(assignments: Sequence[str]) -> list[EarlyStopConfig]:
    """['tau=0.5,1', 'rule=gradient'] -> one validated EarlyStopConfig per combination."""
    fields = {f.name for f in dataclasses.fields(EarlyStopConfig)}
    axes: list[tuple[str, list[str]]] = []
    for item in assignments:
        key, sep, values = item.partition("=")
        key = key.removeprefix("early_stop.")
        if not sep or key not in fields:
            raise ConfigError(
                f"'{item}' is not an early_stop setting; use KEY=VALUE with KEY one of: "
                f"{', '.join(sorted(fields))}."
            )
        axes.append((key, values.split(",")))
    configs = []
    for combo in itertools.product(*(values for _, values in axes)):
        dotlist = [f"{key}={value}" for (key, _), value in zip(axes, combo, strict=True)]
        merged = OmegaConf.merge(
            OmegaConf.structured(EarlyStopConfig), OmegaConf.from_dotlist(dotlist)
        )
        configs.append(OmegaConf.to_object(merged))
    return configs  # type: ignore[return-value]


def describe(cfg: EarlyStopConfig, varied: Sequence[str]) -> str:
    return " ".join(f"{k}={getattr(cfg, k)}" for k in ("rule", *varied))


def per_run_rows(runs: Sequence[StoredRun], cfg: EarlyStopConfig, group_by: str) -> list[list[str]]:
    rows = []
    for run in runs:
        j = judge(run.history, cfg)
        if j is None:
            continue
        rows.append(
            [
                run.name,
                run.tags.get(group_by, "?"),
                fmt(j.trigger_epoch),
                j.cause or "-",
                fmt(j.failing_epoch),
                str(j.stop_epoch),
                str(j.oracle_epoch),
                fmt(j.quality_at_stop),
                fmt(j.quality_at_oracle),
                fmt(j.final_quality),
                fmt(j.regret),
                str(j.epochs_saved),
            ]
        )
    return rows


def summary(judgements: Sequence[Judgement]) -> list[str]:
    regrets = [j.regret for j in judgements]
    return [
        str(len(judgements)),
        fmt(statistics.median(regrets)),
        fmt(statistics.fmean(regrets)),
        fmt(statistics.fmean(j.stop_epoch for j in judgements), 1),
        fmt(sum(j.trigger_epoch is not None for j in judgements) / len(judgements), 2),
        fmt(statistics.fmean(j.epochs_saved for j in judgements), 1),
    ]


SUMMARY_HEADER = [
    "runs",
    "median regret",
    "mean regret",
    "mean stop epoch",
    "triggered",
    "mean epochs saved",
]


def grouped_rows(
    runs: Sequence[StoredRun], cfg: EarlyStopConfig, group_by: str, label: str
) -> list[list[str]]:
    groups: dict[str, list[Judgement]] = {}
    for run in runs:
        j = judge(run.history, cfg)
        if j is not None:
            groups.setdefault(run.tags.get(group_by, "?"), []).append(j)
    rows = [[label, name, *summary(js)] for name, js in sorted(groups.items())]
    everything = [j for js in groups.values() for j in js]
    if everything:
        rows.append([label, "**all**", *summary(everything)])
    return rows


NEVER_STOP = "never stop (baseline)"


def _scores(row: list[str]) -> tuple[float, float, float]:
    """(median regret, mean regret, mean epochs saved) of a summary row: after the rule
    and group cells it holds SUMMARY_HEADER's columns."""
    cells = dict(zip(SUMMARY_HEADER, row[2:], strict=True))
    return (
        float(cells["median regret"]),
        float(cells["mean regret"]),
        float(cells["mean epochs saved"]),
    )


def ranking(row: list[str]) -> tuple[float, float, float]:
    """Lowest median regret first; ties (common: most runs never collapse for good, so
    many settings stop nowhere harmful) go to the lower mean regret, then to the setting
    that saves more epochs."""
    median, mean, saved = _scores(row)
    return median, mean, -saved


def tolerant_ranking(baseline_median: float, tolerance: float):
    """Settings that do no harm on typical runs first (median regret within `tolerance`
    of never stopping), best tail (lowest mean regret) among them; then the others."""

    def key(row: list[str]) -> tuple[bool, float, float, float]:
        median, mean, saved = _scores(row)
        return median > baseline_median + tolerance + 1e-12, mean, median, -saved

    return key


def main(argv: Sequence[str] | None = None) -> int:
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
    parser.add_argument("--by", default="loss", help="tag to group runs by (default: loss)")
    parser.add_argument(
        "--tolerance",
        type=float,
        help="rank a grid by mean regret among settings whose median regret is within this "
        "of never stopping (how the defaults were chosen: 0.005)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--figures", type=Path, help="write a phase figure per run here")
    args = parser.parse_args(argv)
    register()
    try:
        configs = parse_grid(args.settings)
        uri = resolve_tracking_uri(args.tracking_uri, project_root())
        experiments = args.experiment or ["ganlab"]
        runs = [
            run
            for experiment in experiments
            for run in load_runs(uri, experiment, args.filter, args.run_id)
        ]
    except GanlabError as exc:
        print(f"ganlab-replay: error: {exc}", file=sys.stderr)
        return 2
    if not runs:
        print(
            f"ganlab-replay: no finished runs in experiment {', '.join(experiments)} of {uri}"
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
        header = [
            "run",
            args.by,
            "trigger",
            "cause",
            "failing from",
            "stop",
            "oracle",
            "q(stop)",
            "q(oracle)",
            "q(final)",
            "regret",
            "saved",
        ]
        out += [
            f"rule: {describe(cfg, varied)}",
            "",
            markdown_table(header, per_run_rows(runs, cfg, args.by)),
            "",
        ]
    rows = []
    for cfg in configs:
        rows += grouped_rows(runs, cfg, args.by, describe(cfg, varied))
    # what every rule must beat: training to the end (regret of the last epoch)
    baseline = grouped_rows(runs, EarlyStopConfig(rule="none"), args.by, NEVER_STOP)
    if len(configs) > 1:  # best settings first, judged on all runs together
        key = (
            ranking
            if args.tolerance is None
            else tolerant_ranking(_scores(baseline[-1])[0], args.tolerance)
        )
        rows = sorted((r for r in rows if r[1] == "**all**"), key=key)
    rows += baseline if len(configs) == 1 else baseline[-1:]
    out.append(markdown_table(["rule", args.by, *SUMMARY_HEADER], rows))
    text = "\n".join(out)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.figures:
        from ganlab.figures import rule_figure

        args.figures.mkdir(parents=True, exist_ok=True)
        for run in runs:
            figure = rule_figure(run.history, configs[0], run.name)
            figure.savefig(args.figures / f"{run.name}-{run.run_id[:8]}.png")
    return 0


def cli() -> None:
    sys.exit(main())
