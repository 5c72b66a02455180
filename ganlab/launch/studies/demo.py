"""`make demo`: the three phases, side by side, in about two minutes on a laptop's CPU.

    python -m ganlab.launch.studies.demo                      # make demo runs this
    python -m ganlab.launch.studies.demo trainer.epochs=10    # overrides go to all three runs

Three known runs of the collapse benchmark's catalogue (ganlab/conf/collapse/ring8/), trained as
one sweep, two at a time, with the stopping rule only recording, so every phase unfolds:

* `ns`: NS-GAN at the defaults: fits, then refines (crashes of an epoch or two that it
  comes back from are normal on this ring);
* `ns-g-boost`: the same run until G's learning rate is raised 20x after epoch 25: it
  collapses onto one or two of the 8 modes and stays there;
* `mm-frozen`: a minimax GAN with both learning rates at 1e-2: the generator saturates,
  stops moving and never fits (failing).

It ends with `demo/phases_compared.png` (each run's quality, its phases as the default
rule labelled them, where the rule fired and the epoch whose weights the run keeps, on
one epoch axis), a line per run saying which weights it keeps (its best epoch,
`checkpoints/best.pt`), and one link that opens the three runs compared in MLflow's
training view.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ganlab.core.paths import project_root
from ganlab.rules import COLLAPSING, FAILING, PHASE_NAMES, REFINING
from ganlab.rules.figure import PHASE_COLORS
from ganlab.rules.run_quality import bounded_quality
from ganlab.tracking import RunTracker, StoredRun, load_runs, resolve_tracking_uri, run_url

EXPERIMENT = "demo"
SCENARIOS = ("ns", "ns-g-boost", "mm-frozen")
TITLES = {
    "ns": "healthy: NS-GAN at the defaults",
    "ns-g-boost": "collapses: G's learning rate x20 after epoch 25",
    "mm-frozen": "never fits: a minimax G that saturates and freezes",
}


def sweep_command(uri: str, out: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ganlab",
        "-m",
        f"+collapse/ring8={','.join(SCENARIOS)}",
        "seed=0",
        f"tracking.uri={uri}",
        f"tracking.experiment={EXPERIMENT}",
        "trainer.progress=log",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={out / 'sweep'}",
        *extra,
    ]


def phases_figure(runs: dict[str, StoredRun]) -> Figure:
    """One row per run: quality/score over epochs, phases shaded as the default rule
    labelled them online (the logged `phase`), its trigger marked."""
    fig = Figure(figsize=(9, 6.6), dpi=100)
    axes = fig.subplots(len(runs), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (scenario, run) in zip(axes, runs.items(), strict=True):
        last = run.history[-1][0]
        epochs, quality = bounded_quality(run.history)
        phases = [(e, int(m["phase"])) for e, m in run.history if "phase" in m]
        for (start, phase), (end, _) in zip(phases, [*phases[1:], (last, 0)], strict=True):
            if phase in PHASE_COLORS:
                ax.axvspan(start, end, color=PHASE_COLORS[phase], lw=0)
        ax.plot(epochs, quality, color="tab:green", lw=1.5, label="quality/score")
        trigger = run.tags.get("early_stop.trigger_epoch")
        if trigger is not None:
            ax.axvline(int(trigger), color="tab:red", ls=":", lw=1.5, label="the rule fired")
        kept = run.tags.get("ganlab.kept_epoch")
        if kept is not None:
            ax.plot(
                [int(kept)],
                [float(run.tags["ganlab.kept_quality"])],
                "v",
                color="black",
                ms=7,
                label=f"weights kept (epoch {kept})",
            )
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("quality")
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title(f"{TITLES[scenario]}  ({run.name})", fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    shades = ", ".join(
        f"{PHASE_NAMES[p]} ({c})"
        for p, c in ((REFINING, "blue"), (COLLAPSING, "red"), (FAILING, "grey"))
    )
    fig.suptitle(f"Three runs, three fates; shaded: {shades}; fitting unshaded", fontsize=10)
    fig.tight_layout()
    return fig


def kept_text(run: StoredRun) -> str:
    """Which weights a run ended with, from its tags."""
    kept = run.tags.get("ganlab.kept_epoch")
    if kept is None:
        return "no quality was logged: it keeps its last weights"
    fired = run.tags.get("early_stop.trigger_epoch")
    said = f"the rule fired at epoch {fired}" if fired else "the rule did not fire"
    return (
        f"{said}; the run keeps the weights of epoch {kept} (quality "
        f"{float(run.tags['ganlab.kept_quality']):.3f}, its best): checkpoints/best.pt"
    )


def compare_link(base: str, experiment_id: str, run_ids: list[str]) -> str:
    """MLflow's run comparison of `run_ids`, in its model-training view."""
    runs = urllib.parse.quote(json.dumps(run_ids, separators=(",", ":")))
    experiments = urllib.parse.quote(json.dumps([experiment_id]))
    return (
        f"{base.rstrip('/')}/#/compare-runs?runs={runs}&experiments={experiments}"
        "&workflowType=machine_learning"
    )


def main(argv: list[str] | None = None) -> int:
    """Overrides given (`trainer.epochs=4`) go to all three runs."""
    extra = list(sys.argv[1:] if argv is None else argv)
    root = Path(project_root())
    out = root / "demo"
    uri = resolve_tracking_uri(None, str(root))
    print(f"demo: 3 runs ({', '.join(SCENARIOS)}), 2 at a time, into {uri}", flush=True)
    done = subprocess.run(sweep_command(uri, out, extra))
    stored = load_runs(uri, EXPERIMENT, "tags.`benchmark.family` = 'ring8'")
    latest = {run.tags["benchmark.scenario"]: run for run in stored}  # oldest first
    runs = {s: latest[s] for s in SCENARIOS if s in latest}
    if done.returncode != 0 or len(runs) != len(SCENARIOS):
        print("demo: the sweep did not finish its 3 runs (see above)", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    phases_figure(runs).savefig(out / "phases_compared.png")
    experiment_id = RunTracker.existing(uri, runs["ns"].run_id).experiment_id
    ids = [run.run_id for run in runs.values()]
    executable = Path(sys.executable).parent / "mlflow"
    for scenario, run in runs.items():
        print(f"demo: {run.name} ({TITLES[scenario]}): {kept_text(run)}")
    print(
        "\ndemo: done.\n"
        f"  the three runs side by side: {out / 'phases_compared.png'}\n"
        f"  compared in MLflow: {executable} ui --backend-store-uri {uri}\n"
        f"      then open {compare_link('http://127.0.0.1:5000', experiment_id, ids)}\n"
        f"  one run's own page: {run_url('http://127.0.0.1:5000', experiment_id, ids[1])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
