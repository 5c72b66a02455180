"""A package outside ganlab adds a loss, a monitor, a stopping rule, a model and an image
dataset, each one module of its own, through the `ganlab.plugins` entry point; runs use
each with no edit to ganlab: the model trains on ring8 and on a folder of images, the
dataset trains a DCGAN. The plugin is pip-installed into the test environment and
uninstalled after."""

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
        '''A ganlab plugin: a loss, a monitor, a rule, a model and a dataset, a module each.'''
        from ganlab_demo_plugin import dataset, loss, model, monitor, rule  # noqa: F401
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
        from dataclasses import dataclass

        import torch

        from ganlab.config.fields import option
        from ganlab.registry import register_monitor


        @dataclass
        class SpreadConfig:
            every_n_epochs: int = option(0, "evaluation interval; 0 = off", ge=0)


        class Spread:
            name = "plugin_spread"
            makes_figures = False
            measures_samples = True

            def __init__(self, settings, latents):
                self.every_n_epochs = settings.every_n_epochs
                self.latents = latents

            def __call__(self, state):
                with torch.no_grad():
                    samples = state.generator(self.latents.to(state.device))
                return {"plugin/sample_std": float(samples.std())}


        @register_monitor("plugin_spread", settings=SpreadConfig)
        def build(ctx):
            '''The spread of the generated samples, from a plugin.'''
            return Spread(ctx.settings("plugin_spread"), ctx.z_eval)
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
    "ganlab_demo_plugin/model.py": """
        from dataclasses import dataclass
        from math import prod

        from torch import nn

        from ganlab.config import ModelConfig
        from ganlab.config.fields import option
        from ganlab.registry import register_model


        @dataclass
        class WideConfig(ModelConfig):
            hidden: int = option(32, "units of the one hidden layer", ge=1)


        @register_model("plugin_wide", kinds=("mixture", "image"), settings=WideConfig)
        def build(cfg, data):
            '''One hidden layer each, for points or (flattened) images.'''
            shape = getattr(data, "shape", (data.dim,))
            out = nn.Sequential(nn.Linear(cfg.hidden, prod(shape)), nn.Tanh())
            g = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.ReLU(), out,
                              nn.Unflatten(1, tuple(shape)))
            d = nn.Sequential(nn.Flatten(), nn.Linear(prod(shape), cfg.hidden),
                              nn.LeakyReLU(0.2), nn.Linear(cfg.hidden, 1))
            return g, d
    """,
    "ganlab_demo_plugin/dataset.py": """
        from dataclasses import dataclass

        import torch

        from ganlab.config import ImageConfig
        from ganlab.config.fields import option
        from ganlab.registry import register_dataset


        @dataclass
        class StripesConfig(ImageConfig):
            n_images: int = option(64, "images made", ge=2)


        @register_dataset("plugin_stripes", settings=StripesConfig)
        def load(cfg, data_root):
            '''Horizontal or vertical stripes, 28x28: two classes made on the fly.'''
            labels = torch.arange(cfg.n_images) % 2
            stripes = (torch.arange(28) % 4 < 2).to(torch.uint8) * 255
            images = torch.where(labels.view(-1, 1, 1) == 0, stripes.view(1, 28, 1),
                                 stripes.view(1, 1, 28)).expand(-1, 28, 28)
            return images.unsqueeze(1).contiguous(), labels, 2, "stripes"
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
    # its monitor's settings are checked against its dataclass before anything runs
    refused = run_cli(["+monitor.plugins.plugin_spread.every_n_epoch=1"], tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "monitor.plugins.plugin_spread has no setting every_n_epoch" in refused.stderr


IMAGE_MONITORS = [
    "monitor.classifier.every_n_epochs=0",
    "monitor.fid.every_n_epochs=0",
    "monitor.prdc.every_n_epochs=0",
]


def test_a_plugin_model_and_dataset_train_with_their_own_settings(installed_plugin, tmp_path):
    from PIL import Image

    for cls in ("dark", "light"):  # a folder of the user's images, two classes
        folder = tmp_path / "images" / cls
        folder.mkdir(parents=True)
        for i in range(6):
            shade = 40 * i + (120 if cls == "light" else 0)
            Image.new("L", (30, 30), shade).save(folder / f"{i}.png")
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    env = {"GANLAB_ROOT": str(tmp_path)}
    common = [*TINY, "trainer.epochs=2", f"tracking.uri={uri}", "tracking.experiment=p"]
    runs = {
        "model on ring8": ["model=plugin_wide", "model.hidden=24", "dataset=ring8"],
        "model on a folder": ["model=plugin_wide", "dataset=image_folder",
                              f"dataset.path={tmp_path / 'images'}", "dataset.channels=1",
                              "dataset.image_size=28", *IMAGE_MONITORS],
        "dataset with dcgan": ["model=dcgan", "model.g.width=8", "model.d.width=8",
                               "dataset=plugin_stripes", "dataset.n_images=40",
                               *IMAGE_MONITORS],
    }  # fmt: skip
    for what, overrides in runs.items():
        result = run_cli([*common, *overrides, f"tracking.run_name='{what}'"], tmp_path, env)
        assert result.returncode == 0, f"{what}: {result.stderr[-3000:]}"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("p")
    by_name = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert by_name["model on ring8"].data.params["model.hidden"] == "24"  # its own setting
    assert by_name["model on a folder"].data.tags["model"] == "plugin_wide"
    assert by_name["dataset with dcgan"].data.params["dataset.n_images"] == "40"
    for run in by_name.values():
        assert run.info.status == "FINISHED"
        assert metric_steps(client, run.info.run_id, "monitor/dgrad_fake_p90") == [0, 1, 2]

    # a model's own setting is refused for another model, in one sentence before training
    refused = run_cli([*common, "model=mlp", "model.hidden=3"], tmp_path, env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "hidden" in refused.stderr
    # and a model declares the data it generates
    mismatch = run_cli([*common, "model=dcgan", "dataset=ring8"], tmp_path, env)
    assert mismatch.returncode == 2
    assert "use model=mlp or model=plugin_wide with dataset=ring8" in mismatch.stderr
