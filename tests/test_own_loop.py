"""ganlab.Watch: ganlab's monitors and rule in a user's own training loop.

The promise users rely on: a loop watched by ganlab logs what `ganlab-train` logs for the
same training, key for key and value for value, so runs from either compare side by side.
examples/own_loop.py, given the initial weights and batches ganlab-train derives from its
seed, is that same training.
"""

from __future__ import annotations

import pytest
import torch
from mlflow.tracking import MlflowClient
from torch import nn

import ganlab
from ganlab.core.errors import ConfigError
from ganlab.core.paths import PROJECT_ROOT
from ganlab.core.seeding import stream_seed
from ganlab.tracking import RunTracker
from tests.conftest import TINY, run_cli

EXAMPLE = PROJECT_ROOT / "examples" / "own_loop.py"
MONITOR_SIZES = [o for o in TINY if o.startswith("monitor.")]


def only_run(uri: str, experiment: str):
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run, dict(RunTracker.existing(uri, run.info.run_id).history())


@pytest.mark.slow
def test_the_example_loop_logs_exactly_what_ganlab_train_logs(tmp_path) -> None:
    env = {"OMP_NUM_THREADS": "1", "GANLAB_ROOT": str(tmp_path)}
    ours, theirs = f"sqlite:///{tmp_path / 'train.db'}", f"sqlite:///{tmp_path / 'own.db'}"
    trained = run_cli(
        ["seed=0", "trainer.epochs=3", "trainer.steps_per_epoch=40", "trainer.num_threads=1",
         f"tracking.uri={ours}", "tracking.experiment=own_loop", "trainer.progress=none"],
        tmp_path,
        env,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    looped = run_cli(
        [str(EXAMPLE), "--epochs", "3", "--steps", "40", "--tracking-uri", theirs,
         "--init-seed", str(stream_seed(0, "init")),
         "--batch-seed", str(stream_seed(0, "train"))],
        tmp_path,
        env,
        command="python",
    )  # fmt: skip
    assert looped.returncode == 0, looped.stderr[-3000:]
    assert "epoch 3:" in looped.stdout

    run_a, by_train = only_run(ours, "own_loop")
    run_b, by_loop = only_run(theirs, "own_loop")
    assert sorted(by_train) == sorted(by_loop) == [0, 1, 2, 3]
    for epoch, logged in by_train.items():
        expected = {k: v for k, v in logged.items() if not k.startswith("time/")}
        watched = {k: v for k, v in by_loop[epoch].items() if not k.startswith("time/")}
        # every monitor of the run, the step-level signals, phase, rule score, best epoch
        assert watched == expected, f"epoch {epoch}"
    assert len(expected) > 60 and "monitor/dgrad_fake_p90" in expected
    assert "train/d_logit_abs_max" in expected and "quality/hq_fraction" in expected
    for tag in ("mlflow.note.content", "early_stop.triggered", "ganlab.kept_epoch"):
        assert run_b.data.tags[tag] == run_a.data.tags[tag]
    client = MlflowClient(theirs)
    artifacts = {a.path for a in client.list_artifacts(run_b.info.run_id)}
    assert "phases.png" in artifacts
    assert {a.path for a in client.list_artifacts(run_b.info.run_id, "checkpoints")} == {
        "checkpoints/best.pt"
    }
    assert run_b.info.status == "FINISHED"


def tiny_mlps(dim: int = 2, latent: int = 2) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(latent, 16), nn.ReLU(), nn.Linear(16, dim))
    d = nn.Sequential(nn.Linear(dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return g, d


def train_a_little(watch: ganlab.Watch, g: nn.Module, d: nn.Module, latent: int, steps: int):
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    for _ in range(steps):
        real = watch.data.sample(32)
        l_real, l_fake = d(real), d(g(torch.randn(32, latent)).detach())
        loss_d = nn.functional.softplus(-l_real).mean() + nn.functional.softplus(l_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        watch.d_step(l_real, l_fake, loss_d)
        opt_d.step()
        loss_g = nn.functional.softplus(-d(g(torch.randn(32, latent)))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        watch.g_step(loss_g)
        opt_g.step()


def test_points_without_modes_get_the_gradient_monitors_but_no_quality(
    tmp_path, tracking_uri
) -> None:
    points = torch.randn(500, 3)  # three dimensions, no known modes
    g, d = tiny_mlps(dim=3)
    with ganlab.Watch(
        g, d, latent_dim=2, data=points, epochs=2, tracking_uri=tracking_uri,
        experiment="watch_points", output_dir=tmp_path, overrides=MONITOR_SIZES,
    ) as watch:  # fmt: skip
        for epoch in (1, 2):
            train_a_little(watch, g, d, 2, 5)
            report = watch.end_epoch(epoch)
    metrics = report.metrics
    assert "monitor/dgrad_fake_p90" in metrics and "monitor/steepness_p90" in metrics
    assert "train/d_logit_abs_max" in metrics and "train/loss_d" in metrics
    assert not any(k.startswith("quality/hq") or k.startswith("best/") for k in metrics)
    assert any(k.startswith("quality/data_precision") for k in metrics)  # data space PRDC
    assert report.phase == "fitting" and not report.stop
    run, history = only_run(tracking_uri, "watch_points")
    assert run.data.tags["dataset"] == "own" and run.data.params["dataset.size"] == "500"
    assert sorted(history) == [0, 1, 2]
    assert run.info.status == "FINISHED"


def test_a_crash_in_the_loop_ends_the_run_failed_with_its_reason(tmp_path, tracking_uri):
    g, d = tiny_mlps()
    with pytest.raises(RuntimeError, match="my loop broke"), ganlab.Watch(
        g, d, latent_dim=2, tracking_uri=tracking_uri, experiment="watch_crash",
        output_dir=tmp_path, overrides=MONITOR_SIZES,
    ) as watch:  # fmt: skip
        watch.end_epoch(1)
        raise RuntimeError("my loop broke")
    run, history = only_run(tracking_uri, "watch_crash")
    assert run.info.status == "FAILED"
    assert "my loop broke" in run.data.tags["ganlab.failure"]
    assert sorted(history) == [0, 1]  # what was logged before the crash is kept


def test_epochs_must_grow_and_data_must_be_points_or_images(tmp_path, tracking_uri):
    g, d = tiny_mlps()
    with pytest.raises(ConfigError, match="N x d"):
        ganlab.Watch(g, d, latent_dim=2, data=torch.zeros(3, 4, 5), output_dir=tmp_path)
    with pytest.raises(ConfigError, match="dataset's name"):
        ganlab.Watch(g, d, latent_dim=2, data=[[0.0, 1.0]], output_dir=tmp_path)  # type: ignore[arg-type]
    with ganlab.Watch(
        g, d, latent_dim=2, tracking_uri=tracking_uri, experiment="watch_epochs",
        output_dir=tmp_path, overrides=MONITOR_SIZES,
    ) as watch:  # fmt: skip
        assert watch.end_epoch().epoch == 1  # counted when not given
        with pytest.raises(ConfigError, match="grows by one"):
            watch.end_epoch(1)


def test_images_are_measured_with_grids_and_without_a_download(tmp_path, tracking_uri) -> None:
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(8, 28 * 28), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    d = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 1))
    overrides = [*MONITOR_SIZES, "monitor.classifier.every_n_epochs=0",
                 "monitor.fid.every_n_epochs=0", "monitor.prdc.every_n_epochs=0",
                 "monitor.grid.every_n_epochs=1", "monitor.grid.n_samples=4"]  # fmt: skip
    with ganlab.Watch(
        g, d, latent_dim=8, data=images, tracking_uri=tracking_uri,
        experiment="watch_images", output_dir=tmp_path, overrides=overrides,
    ) as watch:  # fmt: skip
        assert watch.cfg.model.name == "dcgan" and watch.cfg.dataset.kind == "image"
        assert watch.data.sample(2).shape == (2, 1, 28, 28)
        report = watch.end_epoch(1)
    assert "monitor/dgrad_fake_p90" in report.metrics
    run, _ = only_run(tracking_uri, "watch_images")
    grids = MlflowClient(tracking_uri).list_artifacts(run.info.run_id, "samples")
    assert {a.path for a in grids} == {"samples/epoch_0000.png", "samples/epoch_0001.png"}


def test_labelled_images_get_class_quality_from_a_classifier_trained_on_them(
    tmp_path, tracking_uri
) -> None:
    labels = torch.arange(120) % 2  # two classes: dark and bright images
    images = (labels * 200 + torch.randint(0, 50, (120,))).to(torch.uint8)
    images = images.view(-1, 1, 1, 1).expand(-1, 1, 28, 28).contiguous()
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(8, 28 * 28), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    d = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 1))
    classifier = ["every_n_epochs=1", "n_samples=50", "train_epochs=1", "min_accuracy=0"]
    overrides = [*MONITOR_SIZES, f"paths.root={tmp_path}", "monitor.fid.every_n_epochs=0",
                 "monitor.prdc.every_n_epochs=0", "monitor.grid.every_n_epochs=0",
                 *(f"monitor.classifier.{setting}" for setting in classifier)]  # fmt: skip
    with ganlab.Watch(
        g, d, latent_dim=8, data=images, labels=labels, tracking_uri=tracking_uri,
        experiment="watch_labelled", output_dir=tmp_path / "out", overrides=overrides,
    ) as watch:  # fmt: skip
        report = watch.end_epoch(1)
    assert 0.0 <= report.metrics["quality/class_quality"] <= 1.0
    assert "best/quality" in report.metrics  # class quality ranks the epochs
    assert (tmp_path / "out" / "checkpoints" / "best.pt").is_file()
    assert (tmp_path / "data" / "classifiers").is_dir()  # cached under paths.root, nowhere else
