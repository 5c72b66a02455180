"""A small classifier per image dataset, trained once by ganlab and cached.

It labels generated images (class coverage: are all digits/classes produced, in the
right proportions?) and its penultimate features give a *domain FID* that needs no
downloaded weights. Registered as a torch-fidelity feature extractor, so
`monitor.fid.feature_extractor=classifier` computes FID with it (offline machines).

It trains on the dataset's other split (test for a run on train: never on the images
every FID is measured against) and its accuracy on the run's own images is logged with
every run that uses it (`classifier/heldout_accuracy`); a folder of images has no other
split, so there it trains on all but a seeded `holdout_fraction` and is judged on that.
Class coverage and the classifier's FID and IS mean little when it is weak.

Cached under `<paths.data_root>/classifiers/<identity of its training images>-e<epochs>
[-h<holdout>].pt` (the identity carries a hash of the images' content); train it ahead with
`ganlab-prepare dataset=mnist`, or it is trained on first use (a minute or two on a CPU
for MNIST).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.config import GanlabConfig
from ganlab.core.safe_files import REMAKE, load_tensors
from ganlab.core.seeding import generator
from ganlab.data.images import ImageData, to_float

log = logging.getLogger("ganlab")
FEATURES = 128


class SmallClassifier(nn.Module):
    """Two conv blocks and a 128-unit penultimate layer; ~99% on MNIST after 3 epochs."""

    def __init__(self, shape: tuple[int, int, int], n_classes: int) -> None:
        super().__init__()
        channels, height, width = shape
        self.shape, self.n_classes = shape, n_classes
        self.heldout_accuracy: float | None = None  # on images it never trained on
        self.identity = "untrained"  # its cache file's name, once trained or loaded
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 4) * (width // 4), FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features of images in [-1, 1]."""
        return self.trunk(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x))


def holdout_split(n: int, fraction: float, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(training indices, held-out indices): a seeded draw of round(n * fraction) images
    held out (at least one, at most n - 1)."""
    n_held = min(max(1, round(n * fraction)), n - 1)
    order = torch.randperm(n, generator=generator(seed, "classifier/holdout"))
    return order[n_held:], order[:n_held]


def accuracy_on(model: SmallClassifier, data: ImageData, limit: int = 10_000) -> float:
    """Share of `data` (a seeded draw of at most `limit` images) labelled correctly."""
    assert data.labels is not None
    device = next(model.parameters()).device
    pick = torch.randperm(len(data), generator=generator(0, "classifier/judge"))[:limit]
    predicted = classify(model, to_float(data.images[pick].to(device)))[0]
    return float((predicted.cpu() == data.labels[pick]).float().mean())


def train_classifier(
    data: ImageData,
    epochs: int,
    device: torch.device,
    seed: int = 0,
    holdout: float | None = 0.15,
) -> SmallClassifier:
    """Train on `data` but a seeded `holdout` share, and set `heldout_accuracy` on that
    share; with holdout=None train on all of it (another split judges it)."""
    if data.labels is None:
        raise ValueError(f"{data.name} has no labels to train a classifier on")
    torch.manual_seed(seed)
    model = SmallClassifier(data.shape, data.n_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = generator(seed, "classifier", "cpu")
    if holdout is None:
        train_idx, held_idx = torch.arange(len(data)), None
    else:
        train_idx, held_idx = holdout_split(len(data), holdout, seed)
    images, labels = data.images[train_idx], data.labels[train_idx]
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=rng)
        correct = 0
        for batch in order.split(128):
            x = to_float(images[batch].to(device))
            y = labels[batch].to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += int((logits.argmax(1) == y).sum())
        log.info(
            "classifier for %s: epoch %d/%d, train accuracy %.3f",
            data.identity,
            epoch + 1,
            epochs,
            correct / len(images),
        )
    model.eval()
    if held_idx is not None:
        held = ImageData(
            data.name, data.images[held_idx], data.labels[held_idx], data.n_classes, data.identity
        )
        model.heldout_accuracy = accuracy_on(model, held, limit=len(held))
    return model


def load_or_train(
    data: ImageData,
    cache_dir: Path,
    epochs: int,
    device: torch.device,
    holdout: float = 0.15,
    judged_on: ImageData | None = None,
) -> SmallClassifier:
    """The cached classifier trained on `data`, trained and saved on first use.

    Without `judged_on` it trains on all but a seeded `holdout` share of `data` and is
    judged on that share; with `judged_on` (the run's images, when `data` is the
    dataset's other split) it trains on all of `data` and is judged on those images.
    `model.identity` names it (its cache file): the FID statistics cached with its
    features are keyed by it.
    """
    tag = f"-e{epochs}" + ("" if judged_on is not None else f"-h{round(holdout * 1000):03d}")
    path = cache_dir / f"{data.identity}{tag}.pt"
    model = SmallClassifier(data.shape, data.n_classes)
    if path.is_file():
        saved = load_tensors(path, "cached classifier", REMAKE)
        model.load_state_dict(saved["state_dict"])
        accuracy = saved.get("heldout_accuracy")
        model.heldout_accuracy = None if accuracy is None else float(accuracy)
        model = model.to(device).eval()
    else:
        log.info("training a classifier on %s (cached at %s)", data.identity, path)
        model = train_classifier(
            data, epochs, device, holdout=None if judged_on is not None else holdout
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        state = {k: v.cpu() for k, v in model.state_dict().items()}
        torch.save({"state_dict": state, "heldout_accuracy": model.heldout_accuracy}, tmp)
        os.replace(tmp, path)
    if judged_on is not None:
        model.heldout_accuracy = accuracy_on(model, judged_on)
    model.identity = path.stem
    judged = judged_on.identity if judged_on is not None else f"{holdout:.0%} held out of it"
    log.info(
        "classifier %s: accuracy %.3f on images it never trained on (%s)",
        model.identity,
        model.heldout_accuracy,
        judged,
    )
    return model


def run_classifier(cfg: GanlabConfig, data: ImageData, device: torch.device) -> SmallClassifier:
    """The classifier a run's monitors use, as `monitor.classifier.train_split` says.

    `other`: trained on the dataset's other split (test for a run on train), so it never
    saw the run's images, which are the reference of every FID; judged on those images.
    Datasets without a second split (a folder of images) and `holdout` train on the run's
    images but a seeded held-out share, and are judged on that share.
    """
    from dataclasses import replace

    from ganlab.config.dataset import PublishedImagesConfig
    from ganlab.data.images import EXPECTED_FILES, load_images

    mon = cfg.monitor.classifier
    cache_dir = Path(cfg.paths.data_root) / "classifiers"
    dataset = cfg.dataset  # a published set has the other split; a folder has none
    if (
        mon.train_split == "other"
        and isinstance(dataset, PublishedImagesConfig)
        and dataset.name in EXPECTED_FILES
    ):
        other = "test" if dataset.split == "train" else "train"
        split = replace(dataset, split=other, subset=None)
        train_on = load_images(split, cfg.paths.data_root)
        return load_or_train(
            train_on, cache_dir, mon.train_epochs, device, mon.holdout_fraction, judged_on=data
        )
    return load_or_train(data, cache_dir, mon.train_epochs, device, mon.holdout_fraction)


def warn_if_weak(model: SmallClassifier, min_accuracy: float) -> bool:
    """Say so when the classifier is too weak to judge class coverage; True if it is."""
    accuracy = model.heldout_accuracy
    if accuracy is None or accuracy >= min_accuracy:
        return False
    log.warning(
        "the classifier labels only %.1f%% of held-out images correctly (below "
        "monitor.classifier.min_accuracy=%.2f): class coverage, class_quality and the "
        "classifier's FID and IS are unreliable; train it longer "
        "(monitor.classifier.train_epochs) or on more images",
        100 * accuracy,
        min_accuracy,
    )
    return True


@torch.no_grad()
def classify(
    model: SmallClassifier, images: Tensor, batch_size: int = 500
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(predicted labels, penultimate features, probability of the predicted label,
    logits) of float images in [-1, 1], batched."""
    labels, features, confidence, logits = [], [], [], []
    for batch in images.split(batch_size):
        feats = model.features(batch)
        features.append(feats)
        out = model.head(feats)
        logits.append(out)
        top = F.softmax(out, dim=1).max(1)
        labels.append(top.indices)
        confidence.append(top.values)
    return torch.cat(labels), torch.cat(features), torch.cat(confidence), torch.cat(logits)


_REGISTERED: set[str] = set()  # extractor names this process gave torch-fidelity


def register_with_torch_fidelity(model: SmallClassifier, name: str) -> str:
    """Make `model` available to torch-fidelity as feature extractor `name`.

    Registered once per process through torch-fidelity's public API. The name must
    identify the model: ganlab's names carry the dataset's content hash and the training
    length, and training is seeded, so one name is always the same classifier.
    """
    import torch_fidelity
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    if name in _REGISTERED:
        return name

    class ClassifierFeatures(FeatureExtractorBase):
        def __init__(self, extractor_name: str, features_list: list[str], **kwargs: object):
            super().__init__(extractor_name, features_list)
            self.model = model

        @staticmethod
        def get_provided_features_list() -> tuple[str, ...]:
            return ("penultimate",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric: str) -> str:
            return "penultimate"

        @staticmethod
        def can_be_compiled() -> bool:
            return False

        @staticmethod
        def get_dummy_input_for_compile() -> None:
            return None

        def forward(self, x: Tensor) -> tuple[Tensor]:
            # torch-fidelity passes uint8 RGB; grayscale classifiers read one channel
            x = to_float(x.to(next(self.model.parameters()).device))
            if self.model.shape[0] == 1:
                x = x[:, :1]
            return (self.model.features(x),)

    torch_fidelity.register_feature_extractor(name, ClassifierFeatures)
    _REGISTERED.add(name)
    return name
