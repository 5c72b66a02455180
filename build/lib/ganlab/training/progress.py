"""Terminal feedback: a progress bar with live losses on a terminal, log lines elsewhere.

Batch jobs (sweeps, CI, SLURM) get one line per epoch instead of a bar, since a bar
redrawn into a log file is unreadable.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from tqdm import tqdm

from ganlab.rules import PHASE_NAMES

log = logging.getLogger("ganlab")

# Shown in the bar and the per-epoch line, when present.
# `quality` is `quality/score` (hq_fraction x modes_covered / n_modes on mixtures, class
# quality on images), named so in every log line, table and figure
SUMMARY_KEYS = {
    "train/loss_d": "loss_d",
    "train/loss_g": "loss_g",
    "quality/score": "quality",
    "quality/hq_fraction": "hq",
    "quality/modes_covered": "modes",
}


def summarize(metrics: Mapping[str, float]) -> str:
    parts = [f"{short}={metrics[key]:.4g}" for key, short in SUMMARY_KEYS.items() if key in metrics]
    parts += [
        f"{key.removeprefix('quality/')}={value:.4g}"
        for key, value in metrics.items()
        if key.startswith(("quality/fid", "quality/domain_fid", "quality/classes_present"))
    ]
    if "phase" in metrics:
        parts.append(f"phase={PHASE_NAMES.get(int(metrics['phase']), '?')}")
    return " ".join(parts)


class _RunName(logging.Filter):
    def __init__(self, run_name: str) -> None:
        super().__init__()
        self.run_name = run_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.name = f"ganlab {self.run_name}"
        return True


def label_logs_with_run(run_name: str) -> None:
    """Name the run in every ganlab log line of this process (`[ganlab ns-ring8-s0]`).

    A sweep's jobs run side by side and write to the same terminal or log; without the
    name their per-epoch lines cannot be told apart.
    """
    for old in [f for f in log.filters if isinstance(f, _RunName)]:
        log.removeFilter(old)  # one run per process, but tests train several
    log.addFilter(_RunName(run_name))


class Progress:
    """mode: bar | log | none | auto (bar when stderr is a terminal, else log).

    A sweep job (`in_sweep`) never draws a bar on auto: parallel jobs' bars would overwrite
    each other on the shared terminal.
    """

    def __init__(
        self,
        mode: str,
        total_epochs: int,
        steps_per_epoch: int,
        start_epoch: int,
        in_sweep: bool = False,
    ):
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() and not in_sweep else "log"
        self.mode = mode
        self.total_epochs = total_epochs
        self.bar: tqdm | None = None
        if mode == "bar":
            self.bar = tqdm(
                total=total_epochs * steps_per_epoch,
                initial=start_epoch * steps_per_epoch,
                unit="step",
                dynamic_ncols=True,
                mininterval=0.5,
            )

    def advance(self, steps: int) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def epoch_done(self, epoch: int, metrics: Mapping[str, float]) -> None:
        summary = summarize(metrics)
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch}/{self.total_epochs}", refresh=False)
            self.bar.set_postfix_str(summary)
        elif self.mode == "log":
            log.info("epoch %d/%d %s", epoch, self.total_epochs, summary)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
