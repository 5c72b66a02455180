"""Files ganlab reads but did not write itself cannot run code.

Snapshots and checkpoints travel as artifacts of a shared server, caches sit in a shared
data folder, CIFAR-10 batches and Inception weights come from the web. Each test plants a
file whose pickle would write a marker file when unpickled, at the place a user's command
reads it, and checks that the command refuses it in one line with exit code 2 and that
the marker never appears. `test_the_crafted_file_does_run_code_when_unpickled` shows the
planted payload is real: plain unpickling does write the marker.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from ganlab.core.safe_files import UnsafeFileError, check_torch_file, load_pickle, load_tensors
from ganlab.training.run import train
from tests.conftest import run_cli
from tests.image_fixtures import write_cifar10, write_mnist


class RunsCode:
    """Unpickling this object writes `marker`: what a crafted file could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def one_line_refusal(result, command: str) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{command}: error")]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_the_crafted_file_does_run_code_when_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    torch.save({"generator": RunsCode(marker)}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)  # what the unsafe loaders did
    assert marker.read_text() == "ran"


def test_ganlab_eval_refuses_a_snapshot_that_would_run_code(
    make_cfg, client, tracking_uri, tmp_path
) -> None:
    result = train(make_cfg("trainer.epochs=2", "trainer.snapshot_every_n_epochs=2"))
    marker = tmp_path / "marker"
    crafted = tmp_path / "upload" / "epoch_000002.pt"
    crafted.parent.mkdir()
    payload = {"format": "ganlab-weights/1", "epoch": 2, "generator": RunsCode(marker)}
    torch.save(payload, crafted)
    client.log_artifact(result.run_id, str(crafted), "snapshots")  # replaces the real one
    evaluated = run_cli(
        [result.run_id, "--metrics", "quality", "--epochs", "2", "--tracking-uri", tracking_uri],
        tmp_path,
        command="ganlab-eval",
    )
    line = one_line_refusal(evaluated, "ganlab-eval")
    assert f"refused to load snapshot 2 (snapshots/epoch_000002.pt of run {result.run_id})" in line
    assert "exec" in line
    assert not marker.exists()


def test_resuming_from_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    crafted = tmp_path / "last.pt"
    torch.save({"format": "ganlab-checkpoint/1", "trainer": RunsCode(marker)}, crafted)
    resumed = run_cli([f"trainer.resume={crafted}", "trainer.progress=none"], tmp_path)
    line = one_line_refusal(resumed, "ganlab-train")
    assert "refused to load checkpoint" in line and "resume from another checkpoint" in line
    assert not marker.exists()


def test_a_cifar10_batch_that_would_run_code_is_refused(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "data")
    marker = tmp_path / "marker"
    batch = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({"data": RunsCode(marker), "labels": []}))
    trained = run_cli(
        [
            "dataset=cifar10",
            "model=dcgan",
            "dataset.download=false",
            f"paths.data_root={tmp_path / 'data'}",
            "trainer.epochs=1",
            "trainer.progress=none",
        ],
        tmp_path,
    )
    line = one_line_refusal(trained, "ganlab-train")
    assert "refused to load CIFAR-10 batch" in line and "data_batch_3" in line
    assert not marker.exists()


@pytest.fixture
def prepared_mnist(tmp_path: Path) -> tuple[Path, list[str]]:
    """Fixture digits with their classifier and FID statistics cached by ganlab-prepare."""
    root = tmp_path / "data"
    write_mnist(root, "MNIST", n_train=300)
    args = [
        "dataset=mnist",
        "model=dcgan",
        "dataset.download=false",
        f"paths.data_root={root}",
        "monitor.fid.every_n_epochs=1",
        "monitor.fid.feature_extractor=classifier",
        "monitor.classifier.train_epochs=1",
    ]
    first = run_cli(args, tmp_path, command="ganlab-prepare")
    assert first.returncode == 0, first.stderr[-2000:]
    return root, args


@pytest.mark.parametrize("cache", ["classifiers", "fidelity_cache"])
def test_ganlab_prepare_refuses_a_cache_file_that_would_run_code(
    prepared_mnist, tmp_path, cache
) -> None:
    root, args = prepared_mnist
    (cached, *_) = sorted((root / cache).glob("*.pt"))
    marker = tmp_path / "marker"
    torch.save({"state_dict": RunsCode(marker), "mu": RunsCode(marker)}, cached)
    again = run_cli(args, tmp_path, command="ganlab-prepare")
    line = one_line_refusal(again, "ganlab-prepare")
    assert "refused to load" in line and "delete it and ganlab makes it again" in line
    assert not marker.exists()


def test_inception_weights_that_would_run_code_are_refused_before_torch_fidelity_loads_them(
    tmp_path: Path,
) -> None:
    from ganlab.config import FIDMonitorConfig
    from ganlab.monitors.fid import INCEPTION, UInt8Images, fidelity

    marker = tmp_path / "marker"
    weights = tmp_path / "inception.pth"
    torch.save({"conv.weight": torch.zeros(1), "hook": RunsCode(marker)}, weights)
    images = torch.zeros(4, 3, 28, 28, dtype=torch.uint8)
    cfg = FIDMonitorConfig(weights_path=str(weights), n_samples=4, batch_size=4)
    with pytest.raises(UnsafeFileError, match="refused to load Inception weights") as info:
        fidelity(images, UInt8Images(images), "x", tmp_path, INCEPTION, cfg, torch.device("cpu"))
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_the_safe_readers_accept_what_the_real_files_hold(tmp_path: Path) -> None:
    """Tensors, plain values and numpy arrays (torch-fidelity's statistics, CIFAR-10's
    batches) pass; a damaged file is one sentence, not a traceback."""
    import numpy as np

    stats = {"mu": np.arange(3.0), "sigma": np.eye(3), "n": np.int64(3)}
    torch.save(stats, tmp_path / "stats.pt")
    check_torch_file(tmp_path / "stats.pt", "cached FID statistics")
    batch = {"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2], "batch_label": "b"}
    (tmp_path / "batch").write_bytes(pickle.dumps(batch))
    loaded = load_pickle(tmp_path / "batch", "CIFAR-10 batch")
    assert loaded["labels"] == [1, 2] and loaded["data"].shape == (2, 3072)
    torch.save({"w": torch.ones(2)}, tmp_path / "weights.pt")
    assert torch.equal(load_tensors(tmp_path / "weights.pt", "weights")["w"], torch.ones(2))
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnsafeFileError, match="cannot be read") as info:
        load_tensors(tmp_path / "torn.pt", "snapshot 3")
    assert "\n" not in str(info.value)


def test_torch_fidelity_reads_the_checked_bytes_not_the_shared_file(tmp_path: Path, monkeypatch):
    """The cache is checked and loaded from one private copy: a file swapped into the
    shared folder after the check is never what torch-fidelity reads."""
    import numpy as np
    import torch_fidelity

    from ganlab.config import FIDMonitorConfig
    from ganlab.monitors.fid import UInt8Images, fidelity

    shared = tmp_path / "cache"
    shared.mkdir()
    good = {"mu": np.zeros(3), "sigma": np.eye(3)}
    torch.save(good, shared / "x-stats.pt")
    seen = {}

    def calculate_metrics(**kwargs):
        private = Path(kwargs["cache_root"])
        torch.save({"evil": RunsCode(tmp_path / "marker")}, shared / "x-stats.pt")  # swapped
        seen["root"], seen["mode"] = private, private.stat().st_mode & 0o777
        seen["bytes"] = (private / "x-stats.pt").read_bytes()
        torch.save(good, private / "x-new.pt")  # statistics torch-fidelity computed
        seen["weights_only"] = torch.hub.load_state_dict_from_url.keywords["weights_only"]
        return {"frechet_inception_distance": 1.0}

    monkeypatch.setattr(torch_fidelity, "calculate_metrics", calculate_metrics)
    images = torch.zeros(4, 3, 28, 28, dtype=torch.uint8)
    cfg = FIDMonitorConfig(n_samples=4, batch_size=4)
    before = (shared / "x-stats.pt").read_bytes()
    fidelity(images, UInt8Images(images), "x", shared, "classifier", cfg, torch.device("cpu"))
    assert seen["root"] != shared and seen["mode"] == 0o700
    assert seen["bytes"] == before  # the bytes checked, not the swapped file
    assert seen["weights_only"] is True
    assert (shared / "x-new.pt").is_file()  # new statistics reach the shared cache
    assert not (tmp_path / "marker").exists()
