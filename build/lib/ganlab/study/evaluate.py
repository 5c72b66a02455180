"""`ganlab-eval`: measures computed after training, on a finished run's stored snapshots.

Like stylegan2-ada's calc_metrics.py: no retraining; each snapshot is rebuilt from its own
stored config, the chosen monitors run on it exactly as they would have during training
(same fixed latents and real sets, same keys), and the values are logged into the same
MLflow run at the snapshot's epoch, so they line up with the live curves.

    ganlab-eval RUN_ID --metrics prdc,fid --epochs 10,20,best
    ganlab-eval RUN_ID --metrics pr,dc --epochs all --set monitor.prdc.n_samples=10000

--metrics takes monitor names (ganlab.monitors: quality, prdc, fid, classifier, steepness,
layer_norms, dgrad, dconf, duality_gap, ...) and the aliases pr, dc (= prdc) and is
(= classifier: the IS in the classifier's features; in Inception features use
`--metrics fid --set monitor.fid.inception_score=true`). --epochs takes epoch
numbers, `best` (the weights the run keeps: its best epoch by its own quality, or the
best before it stopped; every run has it) or `all` (every snapshot). A metric already
logged at a snapshot's epoch is left as it is and reported, unless --overwrite. Epoch
snapshots exist only for runs trained with trainer.snapshot_every_n_epochs > 0.
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.config import validate
from ganlab.core.errors import GanlabError
from ganlab.core.paths import project_root
from ganlab.core.safe_files import load_tensors
from ganlab.core.secrets import clean_command_line
from ganlab.monitors import EvalState, MonitorSuite, build_monitors
from ganlab.registry import MONITORS
from ganlab.tracking import RunTracker, check_tracking, resolve_tracking_uri
from ganlab.training.build import build_parts, resolve_device
from ganlab.training.checkpoint import WEIGHTS_FORMAT
from ganlab.training.snapshots import BEST, BEST_ARTIFACT, SNAPSHOT_DIR, epoch_of_name
from ganlab.training.steps import GanParts

log = logging.getLogger("ganlab")

ALIASES = {"pr": ("prdc",), "dc": ("prdc",), "is": ("classifier",)}


class EvalError(GanlabError):
    """A request ganlab-eval cannot serve (missing snapshot, unknown metric)."""


@dataclass
class Snapshot:
    label: str  # "10", "best"
    artifact: str  # path inside the run's artifacts


def monitor_names(requested: Sequence[str], known: Sequence[str]) -> list[str]:
    """Monitor names for --metrics, aliases expanded; unknown names refused."""
    names: list[str] = []
    for item in requested:
        expanded = ALIASES.get(item, (item,))
        for name in expanded:
            if name not in known:
                raise EvalError(
                    f"--metrics {item}: no such measure; choose from "
                    f"{', '.join(sorted(set(known) | set(ALIASES)))}."
                )
            if name not in names:
                names.append(name)
    return names


def available_snapshots(run: RunTracker) -> dict[str, Snapshot]:
    """{label: snapshot} of everything the run kept: epochs, and `best` (the weights the
    run keeps: its best epoch, or its best before it stopped)."""
    found: dict[str, Snapshot] = {}
    for path in run.artifact_paths(SNAPSHOT_DIR):
        epoch = epoch_of_name(Path(path).name)
        if epoch is not None:
            found[str(epoch)] = Snapshot(str(epoch), path)
    if BEST_ARTIFACT in run.artifact_paths(str(Path(BEST_ARTIFACT).parent)):
        found[BEST] = Snapshot(BEST, BEST_ARTIFACT)
    return found


def choose(requested: Sequence[str], found: dict[str, Snapshot], run_id: str) -> list[Snapshot]:
    """The snapshots asked for, or one sentence naming what is missing and what exists."""
    epochs = sorted((k for k in found if k.isdigit()), key=int)
    if list(requested) == ["all"]:
        if not found:
            raise EvalError(
                f"run {run_id} kept no snapshots; train with trainer.snapshot_every_n_epochs=N."
            )
        return [found[k] for k in epochs] + [found[k] for k in (BEST,) if k in found]
    missing = [item for item in requested if item not in found]
    if missing:
        have = ", ".join(epochs + [k for k in (BEST,) if k in found]) or "none"
        raise EvalError(
            f"run {run_id} has no snapshot for {', '.join(missing)}; it has: {have}. "
            "Snapshots are kept every trainer.snapshot_every_n_epochs epochs (0 = none); "
            "`best` is the weights every run keeps (its best epoch, checkpoints/best.pt)."
        )
    return [found[item] for item in requested]


def load_weights(path: Path, label: str, source: str = "") -> dict:
    """A snapshot's ganlab-weights payload, read without unpickling code (a snapshot is an
    artifact anyone with access to the run could have replaced), or one sentence saying
    why it cannot be used."""
    payload = load_tensors(path, f"snapshot {label}", shown_as=source or None)
    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        raise EvalError(f"snapshot {label} ({path.name}) is not a {WEIGHTS_FORMAT} file.")
    return payload


def eval_config(config_yaml: str, overrides: Sequence[str], names: Sequence[str]) -> DictConfig:
    """A snapshot's stored config with `overrides`, only the monitors `names` switched on
    (at every epoch) and every other monitor off."""
    tree = OmegaConf.create(config_yaml)
    assert isinstance(tree, DictConfig)
    tree.merge_with_dotlist(list(overrides))
    for monitor in MONITORS.names():
        node = tree.monitor.get(monitor)
        if OmegaConf.is_dict(node):
            node.every_n_epochs = 1 if monitor in names else 0
    return tree


def evaluate_run(
    uri: str,
    run_id: str,
    metrics: Sequence[str],
    epochs: Sequence[str],
    overrides: Sequence[str] = (),
    overwrite: bool = False,
) -> list[tuple[str, int, dict[str, float]]]:
    """Compute `metrics` on the chosen snapshots and log them into the run at each
    snapshot's epoch; return [(label, epoch, values)]. Checks everything before computing."""
    tracker = RunTracker.existing(uri, run_id)
    run_id = tracker.run_id  # the full id, when a unique prefix was given
    info = tracker.info
    names = monitor_names(metrics, MONITORS.names())
    chosen = choose(epochs, available_snapshots(tracker), run_id)
    results = []
    built: tuple[GanParts, MonitorSuite, torch.device] | None = None
    logged_steps: dict[str, set[int]] = {}  # key -> epochs it has values at, read once per key
    with tempfile.TemporaryDirectory(prefix="ganlab-eval-") as tmp:
        for snapshot in chosen:
            path = tracker.download(snapshot.artifact, tmp)
            payload = load_weights(path, snapshot.label, f"({snapshot.artifact} of run {run_id})")
            if built is None:  # one run, one config: data, nets and monitors built once
                cfg = validate(eval_config(payload["config_yaml"], overrides, names))
                device = resolve_device(cfg.device)
                parts = build_parts(cfg, device)
                built = (parts, build_monitors(cfg, parts, info.run_name), device)
            parts, suite, device = built
            parts.generator.load_state_dict(payload["generator"])
            parts.discriminator.load_state_dict(payload["discriminator"])
            ema = None
            if "ema_generator" in payload:
                ema = copy.deepcopy(parts.generator)
                ema.load_state_dict(payload["ema_generator"])
            epoch = int(payload["epoch"])
            state = EvalState(parts.generator, parts.discriminator, epoch, device, {}, ema)
            values, figures = suite.evaluate(state, last_epoch=epoch)
            for figure in figures.values():
                figure.clear()
            for key in values.keys() - logged_steps.keys():
                logged_steps[key] = tracker.logged_steps(key)
            done = {key for key in values if epoch in logged_steps[key]}
            to_log = values if overwrite else {k: v for k, v in values.items() if k not in done}
            if done and not overwrite:
                log.info(
                    "epoch %d: %d value(s) already logged at this epoch kept (--overwrite "
                    "replaces them): %s",
                    epoch,
                    len(done),
                    ", ".join(sorted(done)[:5]) + (" ..." if len(done) > 5 else ""),
                )
            tracker.log_metrics_at(to_log, epoch, int(info.end_time or info.start_time or 0))
            for key in to_log:
                logged_steps[key].add(epoch)
            results.append((snapshot.label, epoch, values))
            log.info("%s (epoch %d): %d value(s) logged", snapshot.label, epoch, len(to_log))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ganlab-eval",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument(
        "run_id", help="the MLflow run id of a finished run (or its first characters)"
    )
    parser.add_argument("--metrics", required=True, help="comma-separated monitors/aliases")
    parser.add_argument("--epochs", default="all", help="e.g. 10,20,best or all")
    parser.add_argument("--tracking-uri", help="default: as ganlab-train resolves it")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override"
    )
    parser.add_argument("--overwrite", action="store_true", help="log values already present")
    args = parser.parse_args(clean_command_line("ganlab-eval", argv))
    malformed = [item for item in args.set if "=" not in item or item.startswith("=")]
    if malformed:  # before anything is downloaded or computed
        parser.error(
            f"--set {malformed[0]}: give KEY=VALUE, e.g. --set monitor.prdc.n_samples=5000"
        )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uri = resolve_tracking_uri(args.tracking_uri, project_root())
    split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
    try:
        check_tracking(uri, False, 5.0)
        results = evaluate_run(
            uri, args.run_id, split(args.metrics), split(args.epochs), args.set, args.overwrite
        )
    except GanlabError as exc:
        print(f"ganlab-eval: error: {exc}", file=sys.stderr)
        return 2
    for label, epoch, values in results:
        print(f"{label} (epoch {epoch})")
        for key, value in sorted(values.items()):
            print(f"  {key} = {value:.6g}")
    return 0


def cli() -> None:
    sys.exit(main())
