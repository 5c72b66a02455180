"""Image datasets, DCGAN layers, FID and class coverage, on fixture files in true formats."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.config import FIDMonitorConfig, ModelConfig, NetConfig
from ganlab.config.dataset import ImageFolderConfig, PublishedImagesConfig
from ganlab.data.images import DataError, load_images, to_float, to_uint8, to_uint8_rgb
from ganlab.models.classifier import classify, load_or_train, register_with_torch_fidelity
from ganlab.models.dcgan import build_dcgan_pair
from ganlab.models.layers import MinibatchStdDev, PixelNorm
from ganlab.monitors.coverage import class_coverage
from ganlab.monitors.fid import fidelity
from ganlab.monitors.frechet import frechet_distance_samples
from ganlab.monitors.steepness import steepness_exact, steepness_power
from tests.conftest import metric_steps, metric_values
from tests.image_fixtures import write_cifar10, write_mnist


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, "MNIST", n_train=1000)
    write_mnist(root, "FashionMNIST", n_train=300)
    write_cifar10(root)
    return root


def image_cfg(name: str, **kw) -> PublishedImagesConfig:
    return PublishedImagesConfig(name=name, download=False, **kw)


def test_mnist_idx_files_load_through_torchvision(data_root: Path) -> None:
    data = load_images(image_cfg("mnist"), data_root)
    assert data.images.shape == (1000, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.n_classes == 10 and data.labels is not None and len(data.labels) == 1000
    assert re.fullmatch(r"mnist-train-28x28x1-[0-9a-f]{8}", data.identity)
    test = load_images(image_cfg("mnist", split="test"), data_root)
    assert len(test) == 100 and re.fullmatch(r"mnist-test-28x28x1-[0-9a-f]{8}", test.identity)
    fashion = load_images(image_cfg("fashion_mnist"), data_root)
    assert len(fashion) == 300


def test_cifar10_python_batches_load_without_unrestricted_unpickling(data_root) -> None:
    data = load_images(image_cfg("cifar10"), data_root)
    assert data.images.shape == (300, 3, 32, 32)  # five batches of 60
    assert data.n_classes == 10
    # channel-major rows: the block of each class is bright in all three channels
    assert int(data.images[0].max()) == 230


def test_subset_is_seeded_and_named(data_root: Path) -> None:
    a = load_images(image_cfg("mnist", subset=50, subset_seed=3), data_root)
    b = load_images(image_cfg("mnist", subset=50, subset_seed=3), data_root)
    c = load_images(image_cfg("mnist", subset=50, subset_seed=4), data_root)
    assert len(a) == 50 and torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert re.fullmatch(r"mnist-train-subset50s3-28x28x1-[0-9a-f]{8}", a.identity)


def test_caches_are_keyed_by_content_not_by_path(data_root: Path, tmp_path: Path) -> None:
    """Files replaced under the same names get a new identity, hence new cached
    classifiers and FID statistics; the same content elsewhere keeps its identity."""
    from tests.image_fixtures import write_mnist

    original = load_images(image_cfg("mnist"), data_root)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "MNIST").symlink_to(data_root / "MNIST")
    assert load_images(image_cfg("mnist"), copy).identity == original.identity
    replaced = tmp_path / "replaced"
    write_mnist(replaced, "MNIST", n_train=1000)  # same names and size, other pixels
    (replaced / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(
        (replaced / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()[:-1] + b"\x07"
    )
    other = load_images(image_cfg("mnist"), replaced)
    assert other.identity != original.identity
    assert other.identity.rsplit("-", 1)[0] == original.identity.rsplit("-", 1)[0]


def test_missing_files_name_the_files_and_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_images(image_cfg("mnist"), tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "\n" not in message
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_images(image_cfg("cifar10"), tmp_path)


def test_offline_download_failure_is_one_clear_sentence(tmp_path, monkeypatch) -> None:
    import torchvision.datasets.mnist as tv_mnist

    attempts = []

    def no_network(url, *args, **kwargs):
        attempts.append(url)
        raise OSError("network unreachable")

    # torchvision's MNIST module holds its own reference to the download function
    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_network)
    with pytest.raises(DataError, match=r"could not be downloaded \(no network\?\): put"):
        load_images(PublishedImagesConfig(name="fashion_mnist", download=True), tmp_path)
    assert attempts  # it did try to download


def test_image_folder_is_resized_and_cropped(tmp_path: Path) -> None:
    for cls in ("cats", "dogs"):
        folder = tmp_path / "pets" / cls
        folder.mkdir(parents=True)
        for i in range(3):
            pixels = np.full((48, 64, 3), 40 * i, dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    data = load_images(
        ImageFolderConfig(path=str(tmp_path / "pets"), image_size=32, channels=1), tmp_path
    )
    assert data.images.shape == (6, 1, 32, 32)
    assert data.n_classes == 2
    with pytest.raises(DataError, match="no images found"):
        load_images(ImageFolderConfig(path=str(tmp_path / "none")), tmp_path)


def test_uint8_conversion_round_trips_and_tiles_grayscale() -> None:
    images = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8)
    assert torch.equal(to_uint8(to_float(images)), images)
    assert to_float(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]
    rgb = to_uint8_rgb(to_float(images))
    assert rgb.shape == (5, 3, 4, 4) and rgb.dtype == torch.uint8
    assert torch.equal(rgb[:, 0], rgb[:, 2])
    assert to_uint8(torch.tensor([-3.0, 3.0])).tolist() == [0, 255]  # clipped


def test_pixel_norm_gives_unit_mean_square_per_pixel() -> None:
    x = torch.randn(2, 8, 3, 3) * 5
    y = PixelNorm()(x)
    torch.testing.assert_close(y.pow(2).mean(dim=1), torch.ones(2, 3, 3), rtol=1e-4, atol=1e-4)


def test_minibatch_stddev_matches_a_hand_computation() -> None:
    x = torch.randn(8, 3, 2, 2)
    y = MinibatchStdDev(group_size=4)(x)
    assert y.shape == (8, 4, 2, 2)
    # sample i is in group i % 2 (PGGAN's reshape): the std over samples i, i+2, i+4, i+6
    for i in range(8):
        members = x[i % 2 :: 2]
        expected = members.std(dim=0, unbiased=False).mean()
        torch.testing.assert_close(
            y[i, 3], torch.full((2, 2), float(expected)), rtol=1e-4, atol=1e-5
        )


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_shapes_and_switches(shape) -> None:
    cfg = ModelConfig(
        name="dcgan",
        latent_dim=16,
        g=NetConfig(width=8, batch_norm=True, pixel_norm=True),
        d=NetConfig(width=8, activation="leaky_relu", minibatch_std=True, spectral_norm=True),
    )
    g, d = build_dcgan_pair(cfg, shape)
    images = g(torch.randn(4, 16))
    assert images.shape == (4, *shape)
    assert images.abs().max() <= 1.0  # tanh output
    assert d(images).shape == (4, 1)
    assert any(isinstance(m, PixelNorm) for m in g.modules())
    assert any(isinstance(m, MinibatchStdDev) for m in d.modules())


def test_power_iteration_on_the_dcgan_generator_matches_exact() -> None:
    cfg = ModelConfig(name="dcgan", latent_dim=12, g=NetConfig(width=8, batch_norm=True))
    g, _ = build_dcgan_pair(cfg, (1, 28, 28))
    g(torch.randn(32, 12))  # batch-norm running statistics
    g.eval()
    z = torch.randn(10, 12)
    exact = steepness_exact(g, z).detach()
    power = steepness_power(g, z, 20, torch.Generator().manual_seed(0)).detach()
    assert float(((power - exact).abs() / exact).max()) < 1e-3


@pytest.fixture(scope="module")
def mnist_classifier(data_root: Path, tmp_path_factory):
    data = load_images(image_cfg("mnist"), data_root)
    cache = tmp_path_factory.mktemp("classifiers")
    return data, cache, load_or_train(data, cache, epochs=2, device=torch.device("cpu"))


def test_classifier_is_trained_once_and_cached(mnist_classifier) -> None:
    data, cache, model = mnist_classifier
    labels, features, _, _ = classify(model, to_float(data.images))
    assert float((labels == data.labels).float().mean()) > 0.9
    assert features.shape == (len(data), 128)
    cached = list(cache.glob("*.pt"))
    assert [p.name for p in cached] == [f"{data.identity}-e2-h150.pt"]
    again = load_or_train(data, cache, epochs=2, device=torch.device("cpu"))  # from the file
    torch.testing.assert_close(again.head.weight, model.head.weight)
    assert again.heldout_accuracy == model.heldout_accuracy


def test_the_classifier_never_trains_on_the_images_fid_is_measured_against(
    data_root: Path, make_cfg
) -> None:
    """train_split=other (the default): trained on the test split, judged on the run's
    training images (the FID reference); holdout: the run's images but a held-out share;
    a folder of images (one split) always the latter."""
    from ganlab.config import validate
    from ganlab.models.classifier import accuracy_on, run_classifier

    cpu = torch.device("cpu")
    base = [
        "dataset=mnist",
        "model=dcgan",
        "dataset.download=false",
        f"paths.data_root={data_root}",
    ]
    cfg = validate(make_cfg(*base, "monitor.classifier.train_epochs=1"))
    train = load_images(image_cfg("mnist"), data_root)
    test = load_images(image_cfg("mnist", split="test"), data_root)
    model = run_classifier(cfg, train, cpu)
    assert model.identity == f"{test.identity}-e1"  # trained on the test split
    # computed here without ganlab's helpers: scale to [-1, 1], logits, argmax; all 1,000
    # images (below the draw cap)
    with torch.no_grad():
        logits = model.head(model.features(train.images.float() / 127.5 - 1.0))
    independent = float((logits.argmax(1) == train.labels).float().mean())
    assert 0.0 < independent < 1.0
    assert model.heldout_accuracy == pytest.approx(independent)
    assert accuracy_on(model, train) == pytest.approx(independent)

    holdout = validate(
        make_cfg(
            *base, "monitor.classifier.train_epochs=1", "monitor.classifier.train_split=holdout"
        )
    )
    assert run_classifier(holdout, train, cpu).identity == f"{train.identity}-e1-h150"


def test_classifier_accuracy_is_measured_on_images_it_never_trained_on(
    mnist_classifier, caplog
) -> None:
    from ganlab.models.classifier import holdout_split, warn_if_weak

    data, _, model = mnist_classifier
    train_idx, held_idx = holdout_split(len(data), 0.15)
    assert len(held_idx) == round(0.15 * len(data))
    assert not set(train_idx.tolist()) & set(held_idx.tolist())
    assert len(train_idx) + len(held_idx) == len(data)
    predicted = classify(model, to_float(data.images[held_idx]))[0]
    expected = float((predicted == data.labels[held_idx]).float().mean())
    assert model.heldout_accuracy == pytest.approx(expected)
    with caplog.at_level("WARNING", logger="ganlab"):
        assert not warn_if_weak(model, min_accuracy=expected)  # at the threshold: fine
        assert warn_if_weak(model, min_accuracy=expected + 0.01)
    assert "held-out images correctly" in caplog.text


def test_class_coverage_statistics() -> None:
    uniform = torch.arange(10).repeat(50)
    stats = class_coverage(uniform, 10)
    assert stats["quality/class_js"] == pytest.approx(0.0, abs=1e-7)
    assert stats["quality/classes_present"] == 10.0
    collapsed = torch.cat([torch.full((480,), 3), torch.arange(10).repeat(2)])
    stats = class_coverage(collapsed, 10)
    assert stats["quality/classes_present"] == 1.0  # the others hold 2 < 10% of 50
    assert stats["quality/class_count/3"] == 482.0
    assert stats["quality/class_js"] > 0.7


def test_fid_with_the_classifier_extractor(mnist_classifier, tmp_path, monkeypatch) -> None:
    """FID of a set against itself ~ 0, against a shifted set > 0, equal to the closed
    form on the same features; the reference pass is cached and skipped the second time."""
    from ganlab.monitors.fid import UInt8Images

    data, _, model = mnist_classifier
    name = register_with_torch_fidelity(model, "ganlab-classifier-test")
    real = UInt8Images(data.images.repeat(1, 3, 1, 1))
    cfg = FIDMonitorConfig(feature_extractor="classifier", batch_size=250)
    cpu = torch.device("cpu")
    same = data.images[:500].repeat(1, 3, 1, 1)

    calls = []
    forward = model.features

    def counting(x):
        calls.append(len(x))
        return forward(x)

    monkeypatch.setattr(model, "features", counting)
    first = fidelity(same, real, "fixture-mnist", tmp_path, name, cfg, cpu)
    seen_first = sum(calls)
    assert seen_first == 500 + len(data)  # generated + the real reference set
    assert list(tmp_path.glob("fixture-mnist-*stat-fid*"))  # statistics cached on disk

    calls.clear()
    shifted = (same.int() + 60).clamp(0, 255).to(torch.uint8)
    second = fidelity(shifted, real, "fixture-mnist", tmp_path, name, cfg, cpu)
    assert sum(calls) == 500  # the reference pass was skipped

    assert first["frechet_inception_distance"] < 2.0  # a subset of the same data
    assert second["frechet_inception_distance"] > 10 * first["frechet_inception_distance"] + 5
    monkeypatch.setattr(model, "features", forward)
    ours = frechet_distance_samples(
        classify(model, to_float(shifted[:, :1]))[1], classify(model, to_float(data.images))[1]
    )
    assert second["frechet_inception_distance"] == pytest.approx(ours, rel=1e-3)


def test_inception_without_network_says_how_to_work_offline(tmp_path, monkeypatch) -> None:
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    from ganlab.core.errors import GanlabError
    from ganlab.monitors.fid import UInt8Images

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(inception, "load_state_dict_from_url", no_network)
    images = torch.zeros(4, 3, 28, 28, dtype=torch.uint8)
    with pytest.raises(GanlabError, match="set monitor.fid.weights_path"):
        fidelity(
            images,
            UInt8Images(images),
            "offline",
            tmp_path,
            "inception-v3-compat",
            FIDMonitorConfig(batch_size=4),
            torch.device("cpu"),
        )


def test_smoke_scale_mnist_run_logs_the_image_metrics(data_root, make_cfg, client) -> None:
    from ganlab.training.run import train

    cfg = make_cfg(
        "experiment=phases_mnist",
        "scale=smoke",
        f"paths.data_root='{data_root}'",
        "dataset.download=false",
        "trainer.epochs=4",
        "trainer.steps_per_epoch=8",
        "early_stop=gradient",
        "early_stop.reference=running",
        "early_stop.tau=0",
        "early_stop.warmup_epochs=1",
        "early_stop.patience=1",
        "early_stop.action=record",
        "monitor.fid.every_n_epochs=2",
        "monitor.classifier.every_n_epochs=2",
        "monitor.grid.every_n_epochs=2",
        "monitor.prdc.every_n_epochs=2",
        "trainer.ema_decay=0.9",
    )
    result = train(cfg)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["dataset"] == "mnist" and run.data.tags["model"] == "dcgan"
    for key in (
        "quality/classifier_fid1k",
        "quality/domain_fid1k",
        "quality/class_js",
        "quality/classes_present",
        "quality/classifier_is_1k",
        "quality/classifier_precision_200_k3",  # TINY's n_samples wins over the scale
        "quality/classifier_coverage_200_k3",
        "ema/quality/class_js",
        "ema/quality/classifier_density_200_k3",
    ):
        assert metric_steps(client, result.run_id, key) == [0, 2, 4], key
    steepness_every = cfg.monitor.steepness.every_n_epochs
    dgrad_every = cfg.monitor.dgrad.every_n_epochs
    for key, epochs in (
        ("monitor/steepness_p90", [e for e in range(5) if e % steepness_every == 0]),
        ("monitor/dgrad_fake_p90", [e for e in range(5) if e % dgrad_every == 0]),
        ("monitor/velocity_p90", [e for e in range(5) if e % dgrad_every == 0]),
        ("monitor/grad_norm_d_mean", [1, 2, 3, 4]),
        ("phase", [0, 1, 2, 3, 4]),
    ):
        assert metric_steps(client, result.run_id, key) == epochs, key
    # tau=0 fires at the first scored evaluation; what it logged is what the tags say
    assert run.data.tags["early_stop.triggered"] == "true"
    trigger = int(run.data.tags["early_stop.trigger_epoch"])
    best_then = dict(
        zip(
            metric_steps(client, result.run_id, "best/epoch"),
            metric_values(client, result.run_id, "best/epoch"),
            strict=True,
        )
    )[trigger]
    assert run.data.metrics["early_stop/stop_epoch"] == best_then  # the weights a stop keeps
    assert run.data.metrics["early_stop/trigger_epoch"] == int(
        run.data.tags["early_stop.trigger_epoch"]
    )
    from tests.support import artifact_paths

    assert {
        "samples/epoch_0002.png",
        "ema/samples/epoch_0002.png",
        "phases.png",
        "checkpoints/best.pt",
    } <= artifact_paths(client, result.run_id)


def test_a_sweep_prepares_every_dataset_it_trains_on(data_root: Path, tmp_path: Path) -> None:
    """Before a sweep's jobs start: each dataset of `dataset=mnist,fashion_mnist`, not
    only the first job's, gets its classifier (and would get its FID statistics)."""
    from ganlab.launch.cli import prepare_images
    from ganlab.launch.overrides import check_overrides

    root = tmp_path / "data"
    root.mkdir()
    for name in ("MNIST", "FashionMNIST"):
        (root / name).symlink_to(data_root / name)
    args = [
        "dataset=mnist,fashion_mnist",
        "model=dcgan",
        "dataset.download=false",
        f"paths.data_root={root}",
        "monitor.fid.every_n_epochs=0",
        "monitor.classifier.train_epochs=1",
        "dataset.subset=200",
    ]
    prepare_images(check_overrides(args, multirun=True))
    cached = sorted(p.name for p in (root / "classifiers").glob("*.pt"))
    # each trained on its dataset's other split, never on the images the runs train on
    assert [re.sub(r"-[0-9a-f]{8}-", "-", name) for name in cached] == [
        "fashion_mnist-test-28x28x1-e1.pt",
        "mnist-test-28x28x1-e1.pt",
    ]


def test_fid_statistics_are_keyed_by_the_inception_weights_file(data_root, tmp_path) -> None:
    from ganlab.config import FIDMonitorConfig
    from ganlab.monitors.fid import INCEPTION, FIDMonitor

    data = load_images(image_cfg("mnist", subset=20), data_root)
    names = []
    for content in (b"weights one", b"weights two", b"weights two"):
        path = tmp_path / f"w{len(names)}.pth"
        path.write_bytes(content)
        cfg = FIDMonitorConfig(weights_path=str(path), n_samples=10)
        names.append(FIDMonitor(cfg, data, 4, 0, tmp_path, INCEPTION).cache_name)
    assert names[0] != names[1] and names[1] == names[2]  # content, not the file's name
    plain = FIDMonitor(FIDMonitorConfig(n_samples=10), data, 4, 0, tmp_path, INCEPTION)
    assert plain.cache_name == f"ganlab-{data.identity}"


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory) -> Path:
    """A weights file in torch-fidelity's Inception format, with random values (the real
    file cannot be downloaded here): enough to check ganlab's plumbing of its metrics."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda *a: None)
        torch.manual_seed(0)
        model = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(model.state_dict(), path)
    return path


def test_inception_precision_recall_and_is_through_torch_fidelity(
    data_root, random_inception_weights, tmp_path
) -> None:
    from ganlab.monitors.fid import INCEPTION, FIDMonitor, UInt8Images

    data = load_images(image_cfg("mnist", subset=20), data_root)
    cfg = FIDMonitorConfig(
        weights_path=str(random_inception_weights),
        n_samples=20,
        batch_size=20,
        precision_recall=True,
        inception_score=True,
    )
    real = data.images.repeat(1, 3, 1, 1)
    same = fidelity(real, UInt8Images(real), "same", tmp_path, INCEPTION, cfg, torch.device("cpu"))
    # a set against itself: every sample lies in its own ball, both ways
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    assert same["inception_score_mean"] >= 1.0
    monitor = FIDMonitor(cfg, data, 4, 0, tmp_path, INCEPTION)
    g = torch.nn.Sequential(
        torch.nn.Linear(4, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28))
    )
    from ganlab.monitors.base import EvalState

    stats = monitor(EvalState(g, g, 0, torch.device("cpu")))
    assert set(stats) == {
        "quality/fid20",
        "quality/inception_precision_20_k3",
        "quality/inception_recall_20_k3",
        "quality/inception_is_20",
    }
    assert stats["quality/inception_precision_20_k3"] < 1.0  # noise is not the data


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_resnet_shapes_residual_blocks_and_spectral_norm(shape) -> None:
    from torch.nn.utils import parametrize

    from ganlab.models.resnet import Discriminator, DownBlock, Generator, UpBlock

    g = Generator(16, shape, NetConfig(width=8, batch_norm=True))
    d = Discriminator(shape, NetConfig(width=8, depth=2, activation="relu", spectral_norm=True))
    images = g(torch.randn(4, 16))
    assert images.shape == (4, *shape) and images.abs().max() <= 1.0
    assert d(images).shape == (4, 1)
    ups = 2 if shape[1] == 28 else 3  # 7 -> 28 or 4 -> 32
    assert sum(isinstance(m, UpBlock) for m in g.modules()) == ups
    blocks = [m for m in d.modules() if isinstance(m, DownBlock)]
    assert len(blocks) == ups + 2  # down to the coarsest size, then d.depth blocks
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    # a residual block is its input's shortcut plus the residual branch
    block = blocks[-1].eval()  # eval: spectral norm's power iteration stands still
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(block(x), x + block.residual(x))


def test_resnet_trains_on_mnist_files(data_root: Path, make_cfg, client) -> None:
    from ganlab.config import validate
    from ganlab.training.run import train

    cfg = make_cfg(
        "model=resnet",
        "model.g.width=8",
        "model.d.width=8",
        "model.latent_dim=16",
        "dataset=mnist",
        "dataset.download=false",
        "dataset.subset=200",
        f"paths.data_root={data_root}",
        "trainer.epochs=1",
        "monitor.classifier.every_n_epochs=0",
        "monitor.fid.every_n_epochs=0",
        "monitor.prdc.every_n_epochs=0",
    )
    assert validate(cfg).model.d.spectral_norm  # the preset's SNGAN discriminator
    result = train(cfg)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["model"] == "resnet"
    assert metric_steps(client, result.run_id, "monitor/steepness_p90") == [0, 1]
