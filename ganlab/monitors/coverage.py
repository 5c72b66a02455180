"""Class coverage of generated images, and a domain FID, from ganlab's own classifier.

MM-nsat's paper measures mode coverage on MNIST/CIFAR by labelling generated samples
with a classifier: `quality/class_js` is the Jensen-Shannon distance (base 2) of the
predicted-label histogram to uniform, `quality/classes_present` the classes holding at
least `present_fraction` of a uniform share. `quality/class_confident` is the share of
images the classifier is at least 90% sure of, and `quality/class_quality` =
class_confident x classes_present / n_classes, the image counterpart of the mixtures'
hq_fraction x modes_covered / n_modes (the collapse benchmark labels image runs by it).
Per-class counts are logged too, so presence can be recomputed with any threshold.
`quality/domain_fid<n>` is the Frechet distance between generated and real images in the
classifier's penultimate features: an FID that needs no downloaded weights.
`quality/classifier_is_<n>` is the Inception Score with the classifier in Inception's place.
`classifier/heldout_accuracy` (epoch 0) is the classifier's accuracy on images it never
trained on: the measures above are only as good as it is.
"""

from __future__ import annotations

import torch

from ganlab.config import ClassifierMonitorConfig
from ganlab.core.seeding import generator
from ganlab.data.images import ImageData, to_float
from ganlab.models.classifier import SmallClassifier, classify
from ganlab.monitors.base import EvalState
from ganlab.monitors.context import MonitorContext
from ganlab.monitors.fid import count_tag, generate
from ganlab.monitors.frechet import frechet_distance, gaussian_moments
from ganlab.monitors.quality import js_distance
from ganlab.registry import register_monitor

PRESENT_FRACTION = 0.1  # a class is present with >= 10% of its uniform share of samples
CONFIDENT = 0.9  # a generated image is "recognisable" when the classifier is this sure


def class_coverage(
    labels: torch.Tensor, n_classes: int, confidence: torch.Tensor | None = None
) -> dict[str, float]:
    """Coverage statistics of predicted labels; with the classifier's confidence, also
    `class_confident` (the share it labels with probability >= CONFIDENT, the image
    counterpart of a mixture's hq_fraction) and `class_quality` = class_confident x
    classes_present / n_classes (of hq_fraction x modes_covered / n_modes)."""
    counts = torch.bincount(labels.cpu(), minlength=n_classes)
    share = labels.numel() / n_classes
    stats = {
        "quality/class_js": js_distance(counts, torch.ones(n_classes)),
        "quality/classes_present": float((counts >= PRESENT_FRACTION * share).sum()),
    }
    if confidence is not None:
        confident = float((confidence >= CONFIDENT).float().mean())
        stats["quality/class_confident"] = confident
        stats["quality/class_quality"] = confident * stats["quality/classes_present"] / n_classes
        stats["quality/score"] = stats["quality/class_quality"]  # the run's quality, as on mixtures
    width = len(str(n_classes - 1))
    for cls, count in enumerate(counts.tolist()):
        stats[f"quality/class_count/{cls:0{width}d}"] = float(count)
    return stats


def inception_score(logits: torch.Tensor, splits: int = 10) -> float:
    """exp(E_x KL(p(y|x) || p(y))) averaged over `splits` parts of the samples (Salimans et
    al. 2016), by torch-fidelity's formula; with ganlab's classifier instead of Inception
    it ranges from 1 (one class, or unsure) to n_classes (confident and balanced)."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    return float(isc_features_to_metric(logits, splits=splits)["inception_score_mean"])


class ClassCoverageMonitor:
    name = "classifier"
    measures_samples = True  # EMA generator: run again on it (keys under ema/)
    makes_figures = False

    def __init__(
        self,
        cfg: ClassifierMonitorConfig,
        classifier: SmallClassifier,
        data: ImageData,
        latent_dim: int,
        seed: int,
    ) -> None:
        self.cfg = cfg
        self.every_n_epochs = cfg.every_n_epochs
        self.classifier = classifier
        self.n_classes = data.n_classes
        self.latents = torch.randn(
            cfg.n_samples, latent_dim, generator=generator(seed, "monitor/classifier")
        )
        self.data = data
        self.real_moments: tuple[torch.Tensor, torch.Tensor] | None = None  # once, lazily
        self.tag = count_tag(cfg.n_samples)

    def _real_moments(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if self.real_moments is None:
            real = to_float(self.data.images.to(device))
            self.real_moments = gaussian_moments(classify(self.classifier, real)[1])
        return self.real_moments

    def __call__(self, state: EvalState) -> dict[str, float]:
        device = next(self.classifier.parameters()).device
        images = generate(state.generator, self.latents, state.device, 500).to(device)
        labels, features, confidence, logits = classify(self.classifier, images)
        stats = class_coverage(labels, self.n_classes, confidence)
        if state.epoch == 0 and self.classifier.heldout_accuracy is not None:
            # how far its labels can be trusted, once per run, beside what it measures
            stats["classifier/heldout_accuracy"] = self.classifier.heldout_accuracy
        if self.cfg.inception_score:
            stats[f"quality/classifier_is_{self.tag}"] = inception_score(logits.cpu())
        if self.cfg.domain_fid:
            mean, cov = gaussian_moments(features)
            stats[f"quality/domain_fid{self.tag}"] = frechet_distance(
                mean, cov, *self._real_moments(device)
            )
        return stats


@register_monitor("classifier", settings=ClassifierMonitorConfig)
def build(ctx: MonitorContext) -> ClassCoverageMonitor | None:
    """Images: class coverage and the domain FID, from ganlab's classifier."""
    cfg = ctx.cfg.monitor.classifier
    if not ctx.has_classes or cfg.every_n_epochs <= 0:
        return None
    return ClassCoverageMonitor(
        cfg, ctx.classifier(), ctx.images, ctx.cfg.model.latent_dim, ctx.cfg.seed
    )
