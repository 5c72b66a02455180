"""A package outside ganlab adds a loss, a monitor and a stopping rule, each one module of
its own, through the `ganlab.plugins` entry point; a sweep uses all three with no edit to
ganlab. The plugin is pip-installed into the test environment and uninstalled after."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY, metric_steps, run_cli

pytestmark = pytest.mark.slow

PLUGIN = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "ganlab-demo-plugin"
        version = "0.1"

        [project.entry-points."ganlab.plugins"]
        demo = "ganlab_demo_plugin"

        [tool.setuptools]
        packages = ["ganlab_demo_plugin"]
    """,
    "ganlab_demo_plugin/__init__.py": """
        '''A ganlab plugin: one loss, one monitor, one rule, a module each.'''
        from ganlab_demo_plugin import loss, monitor, rule  # noqa: F401  (they register)
    """,
    "ganlab_demo_plugin/loss.py": """
        from ganlab.losses.base import Formulation, logistic_d_loss, non_saturating_g_loss
        from ganlab.registry import LOSSES


        @LOSSES.register("plugin_ns")
        def plugin_ns(cfg):
            '''NS-GAN again, from a plugin.'''
            return Formulation("plugin_ns", logistic_d_loss, non_saturating_g_loss, logistic=True)
    """,
    "ganlab_demo_plugin/monitor.py": """
        import torch

        from ganlab.registry import MONITORS


        class Spread:
            name = "plugin_spread"
            makes_figures = False
            measures_samples = True

            def __init__(self, every_n_epochs, latents):
                self.every_n_epochs = every_n_epochs
                self.latents = latents

            def __call__(self, state):
                with torch.no_grad():
                    samples = state.generator(self.latents.to(state.device))
                return {"plugin/sample_std": float(samples.std())}


        @MONITORS.register("plugin_spread")
        def build(ctx):
            '''The spread of the generated samples, from a plugin.'''
            settings = ctx.cfg.monitor.plugins.get("plugin_spread", {})
            return Spread(int(settings.get("every_n_epochs", 0)), ctx.z_eval)
    """,
    "ganlab_demo_plugin/rule.py": """
        from dataclasses import dataclass

        from ganlab.config.early_stop import EarlyStopConfig
        from ganlab.config.fields import option
        from ganlab.rules import register_rule
        from ganlab.rules.timeline import finish


        @dataclass
        class AfterConfig(EarlyStopConfig):
            after: int = option(3, "fire at this epoch", ge=1)


        @register_rule("plugin_after", keys=("train/loss_d",), config=AfterConfig)
        def after(history, cfg):
            '''Fires at epoch `after`, from a plugin.'''
            epochs = [e for e, m in history if e >= 1 and "train/loss_d" in m]
            scores = [1.0 if e >= cfg.after else 0.0 for e in epochs]
            return finish(epochs, scores, [0] * len(epochs), 1.0, cfg)
    """,
}


@pytest.fixture
def installed_plugin(tmp_path: Path):
    for name, text in PLUGIN.items():
        path = tmp_path / "plugin" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", str(tmp_path / "plugin")],
        check=True,
        capture_output=True,
    )
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "ganlab-demo-plugin"], capture_output=True)


def test_a_plugin_adds_a_loss_a_monitor_and_a_rule_that_a_sweep_uses(installed_plugin, tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    result = run_cli(
        [
            "-m",
            *TINY,
            "trainer.epochs=4",
            "loss=plugin_ns",
            "early_stop=plugin_after",
            "early_stop.after=2",
            "early_stop.action=record",
            "+monitor.plugins.plugin_spread.every_n_epochs=1",
            "seed=0,1",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            f"tracking.uri={uri}",
            "tracking.experiment=plugins",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("plugins")
    runs = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if r.data.tags.get("ganlab.role") is None
    ]
    assert len(runs) == 2
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.tags["loss"] == "plugin_ns"
        assert run.data.params["early_stop.rule"] == "plugin_after"
        assert run.data.params["early_stop.after"] == "2"
        # a run logs only its own rule's settings
        assert "early_stop.escalation" not in run.data.params
        assert run.data.tags["early_stop.trigger_epoch"] == "2"
        assert metric_steps(client, run.info.run_id, "plugin/sample_std") == [0, 1, 2, 3, 4]
    # and the plugin's names are choices like ganlab's own
    refused = run_cli(["loss=plugin_nss"], tmp_path)
    assert refused.returncode == 2 and "plugin_ns" in refused.stderr
