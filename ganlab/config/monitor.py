"""`monitor.*`: what is measured, how often, on how many samples.

Every block's `every_n_epochs = 0` turns it off; a monitor that is on also runs at epoch
0 and at the last epoch. docs/method.md says what each one computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ganlab.config.fields import check_fields, option, require
from ganlab.core.errors import ConfigError
from ganlab.registry import MONITORS

OFF = "evaluation interval in epochs; 0 = off"


@dataclass
class QualityMonitorConfig:
    """Mixture quality on samples from fixed latents (docs/method.md section 4)."""

    every_n_epochs: int = option(1, OFF, ge=0)
    n_samples: int = option(2500, "generated (fixed latents) and real (fixed draw) samples", ge=2)
    hq_std: float = option(
        3.0, "a sample is high quality within hq_std x std of its nearest centre", gt=0
    )
    min_count: int = option(20, "a mode is covered with at least this many hq samples", ge=1)
    paper_rule: bool = option(
        False,
        "also MM-nsat's reference measures (quality/paper_*): a sample is assigned to the "
        "mode with the smallest mean |x - centre| / std over coordinates and is high quality "
        "when that is below 3; paper_mode_jsd is the JS divergence (base 2) of the hq "
        "samples' mode histogram to the true weights",
    )

    def __post_init__(self) -> None:
        check_fields(self, "monitor.quality")


@dataclass
class PRDCMonitorConfig:
    """Improved precision/recall and density/coverage (k-NN measures) between samples of
    fixed latents and a fixed real set: in data space on mixtures, in the classifier's
    features on images (ganlab.monitors.prdc)."""

    every_n_epochs: int = option(5, OFF, ge=0)
    n_samples: int = option(
        2500, "generated and real samples each; the key names it (precision_2500_k3)", ge=2
    )
    k: int = option(3, "nearest neighbours defining each sample's ball (the papers use 3)", ge=1)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.prdc")
        require(
            self.k < self.n_samples,
            f"monitor.prdc.k={self.k} needs more than k samples; raise monitor.prdc.n_samples.",
        )


@dataclass
class ScatterMonitorConfig:
    """A PNG of generated samples over the true modes, logged as an MLflow artifact."""

    every_n_epochs: int = option(10, OFF, ge=0)
    n_samples: int = option(2500, "points drawn", ge=1)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.scatter")


@dataclass
class SteepnessMonitorConfig:
    """Spectral norm of the generator Jacobian dG/dz at each evaluation latent."""

    every_n_epochs: int = option(1, OFF, ge=0)
    method: str = option(
        "auto",
        "`exact` (full Jacobian), `power` (J^T J products), `auto`: exact when "
        "d_x * d_z <= exact_max_size",
        choices=("auto", "exact", "power"),
    )
    power_iterations: int = option(20, "J^T J products per latent (power method)", ge=1)
    exact_max_size: int = option(4096, "largest d_x * d_z computed exactly on `auto`", ge=1)
    chunk_size: int = option(1024, "latents per batched call (bounds memory)", ge=1)
    conditioning: bool = option(
        True,
        "also the Jacobian's smallest singular value and condition number "
        "(monitor/g_sigma_min_*, monitor/g_condition_*)",
    )
    conditioning_latents: int = option(
        16,
        "latents the conditioning uses when the Jacobian is not computed exactly (images): "
        "each costs d_z forward-mode products (16 on a width-32 MNIST DCGAN: ~7% of an "
        "epoch when evaluated every epoch)",
        ge=1,
    )

    def __post_init__(self) -> None:
        check_fields(self, "monitor.steepness")


@dataclass
class LayerNormsConfig:
    """Spectral norm of every linear/conv weight of G and D (ganlab.monitors.spectral)."""

    every_n_epochs: int = option(1, OFF, ge=0)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.layer_norms")


@dataclass
class DiscriminatorGradientConfig:
    """||grad_x D|| at fakes and at a fixed real batch; ||grad_x L_G|| at fakes."""

    every_n_epochs: int = option(1, OFF, ge=0)
    n_real: int = option(1024, "size of the fixed real batch", ge=2)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.dgrad")


@dataclass
class DiscriminatorConfidenceConfig:
    """How sure D is: sign statistics (StyleGAN2-ADA's r_t) and accuracy on held-out
    reals vs the fakes of Z_eval (ganlab.monitors.dconf)."""

    every_n_epochs: int = option(1, OFF, ge=0)
    n_real: int = option(1024, "held-out real samples (a fresh draw, never a batch)", ge=2)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.dconf")


@dataclass
class SignalsConfig:
    """Step-level signal magnitudes read inside training (ganlab.training.signals)."""

    every_n_steps: int = option(
        10, "layer-output RMS of G and D on every n-th step (forward hooks); 0 = off", ge=0
    )
    update_norms: bool = option(True, "how far G's and D's parameters moved in each epoch")

    def __post_init__(self) -> None:
        check_fields(self, "monitor.signals")


@dataclass
class DualityGapConfig:
    """DG = M(G, D_worst) - M(G_worst, D), each worst case found by `steps` of Adam."""

    every_n_epochs: int = option(
        0,
        "evaluation interval; 0 = off (the default). Costly (2 x steps optimiser steps, "
        "~0.8 training epochs on ring8 per evaluation) and no stop signal on the mixtures, "
        "so only the phase-study experiments turn it on (every 3-5 epochs)",
        ge=0,
    )
    steps: int = option(200, "Adam steps to find each worst case", ge=1)
    lr: float = option(1e-4, "their learning rate (fresh optimiser each time)", gt=0)
    batch_size: int = option(256, "their batch size", ge=1)
    n_eval: int = option(2048, "held-out real samples and latents M is evaluated on", ge=2)
    perturb_std: float = option(
        0.0, "> 0 also logs the perturbed gap (noise of this std on the copied weights)", ge=0
    )

    def __post_init__(self) -> None:
        check_fields(self, "monitor.duality_gap")


@dataclass
class FIDMonitorConfig:
    """FID (and optionally KID) of generated images against the real ones, torch-fidelity."""

    every_n_epochs: int = option(5, OFF + " (images)", ge=0)
    n_samples: int = option(10000, "generated images per FID; the key names it (fid10k)", ge=2)
    feature_extractor: str = option(
        "inception-v3-compat",
        "`inception-v3-compat` (torch-fidelity), or `classifier`: ganlab's own, no download",
        choices=("inception-v3-compat", "classifier"),
    )
    weights_path: str | None = option(None, "Inception weights file, for machines without network")
    kid: bool = option(False, "also KID")
    precision_recall: bool = option(
        False,
        "Inception only: also improved precision and recall (k = 3) by torch-fidelity, keys "
        "quality/inception_precision_<n>_k3 (classifier features: monitor.prdc)",
    )
    inception_score: bool = option(
        False,
        "Inception only: also the Inception Score (10 splits), quality/inception_is_<n> "
        "(classifier features: monitor.classifier.inception_score)",
    )
    batch_size: int = option(200, "batch size of feature extraction", ge=1)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.fid")
        extras = [n for n in ("precision_recall", "inception_score") if getattr(self, n)]
        require(
            not extras or self.feature_extractor == "inception-v3-compat",
            f"monitor.fid.{extras[0] if extras else ''} is for Inception features; in the "
            "classifier's features use monitor.prdc and monitor.classifier.inception_score.",
        )


@dataclass
class ClassifierMonitorConfig:
    """Class coverage of generated images by a small classifier ganlab trains once per
    dataset; its penultimate features also give a domain FID needing no download."""

    every_n_epochs: int = option(5, OFF + " (images)", ge=0)
    n_samples: int = option(10000, "generated images classified", ge=2)
    domain_fid: bool = option(True, "FID in the classifier's penultimate features")
    inception_score: bool = option(
        True,
        "the Inception Score computed with ganlab's classifier instead of Inception "
        "(quality/classifier_is_<n>; 10 splits, torch-fidelity's formula)",
    )
    train_epochs: int = option(3, "training of the (cached) classifier", ge=1)
    train_split: str = option(
        "other",
        "what the classifier trains on: `other` = the dataset's other split (test for a run "
        "on train), never the images FID is measured against, and judged on the run's "
        "images; `holdout` = the run's images but a held-out share, judged on that share "
        "(always so for image folders, which have one split)",
        choices=("other", "holdout"),
    )
    holdout_fraction: float = option(
        0.15,
        "train_split=holdout: share of the images kept from the classifier's training to "
        "measure its accuracy (classifier/heldout_accuracy)",
        gt=0,
        lt=1,
    )
    min_accuracy: float = option(
        0.9,
        "warn when the classifier's held-out accuracy is below this: class coverage and "
        "the classifier's FID/IS are then unreliable",
        ge=0,
        le=1,
    )

    def __post_init__(self) -> None:
        check_fields(self, "monitor.classifier")


@dataclass
class GridMonitorConfig:
    """A grid of images from fixed latents, logged as an artifact."""

    every_n_epochs: int = option(5, OFF + " (images)", ge=0)
    n_samples: int = option(64, "images in the grid", ge=1)

    def __post_init__(self) -> None:
        check_fields(self, "monitor.grid")


@dataclass
class MonitorConfig:
    eval_latents: int = option(
        1024, "size of the fixed latent set Z_eval the gradient monitors share", ge=2
    )
    quality: QualityMonitorConfig = option(doc="mixture quality", factory=QualityMonitorConfig)
    prdc: PRDCMonitorConfig = option(
        doc="precision, recall, density, coverage", factory=PRDCMonitorConfig
    )
    scatter: ScatterMonitorConfig = option(doc="sample scatter plots", factory=ScatterMonitorConfig)
    steepness: SteepnessMonitorConfig = option(
        doc="generator steepness", factory=SteepnessMonitorConfig
    )
    layer_norms: LayerNormsConfig = option(
        doc="per-layer spectral norms of G and D", factory=LayerNormsConfig
    )
    dgrad: DiscriminatorGradientConfig = option(
        doc="D's gradient and particle velocity", factory=DiscriminatorGradientConfig
    )
    param_grads: bool = option(True, "parameter-gradient norms of D and G, from training steps")
    dconf: DiscriminatorConfidenceConfig = option(
        doc="D's confidence", factory=DiscriminatorConfidenceConfig
    )
    signals: SignalsConfig = option(doc="step-level signals", factory=SignalsConfig)
    duality_gap: DualityGapConfig = option(doc="the duality gap", factory=DualityGapConfig)
    fid: FIDMonitorConfig = option(doc="images: FID", factory=FIDMonitorConfig)
    classifier: ClassifierMonitorConfig = option(
        doc="images: class coverage", factory=ClassifierMonitorConfig
    )
    grid: GridMonitorConfig = option(doc="images: sample grids", factory=GridMonitorConfig)
    plugins: dict[str, Any] = option(
        doc="settings of the monitors added by one module (a plugin's, or a new one), by "
        "name, e.g. `+monitor.plugins.my_monitor.every_n_epochs=5`: checked against the "
        "settings dataclass the monitor registers with",
        factory=dict,
    )
    added: bool = option(
        True,
        "the monitors added by one module run, at their settings; `monitor=none` sets false",
    )

    def __post_init__(self) -> None:
        check_fields(self, "monitor")
        for name in self.plugins:  # each added monitor's settings, checked before training
            added_monitor_settings(self, name)


def added_monitor_settings(cfg: MonitorConfig, name: str) -> Any:
    """`monitor.plugins.<name>` checked against the settings dataclass the monitor `name`
    registered with (a ConfigError naming the problem), or the dict as given when it
    declared none."""
    given = cfg.plugins.get(name) or {}
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"monitor.plugins.{name} must be a group of settings, got {given!r}; set them "
            f"one by one, e.g. +monitor.plugins.{name}.every_n_epochs=5."
        )
    settings = MONITORS.get(name).settings  # an unknown name: the registry's sentence
    if settings is None:
        return dict(given)
    known = {f.name for f in fields(settings)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(
            f"monitor.plugins.{name} has no setting {', '.join(unknown)}; its settings: "
            f"{', '.join(sorted(known))}."
        )
    try:
        checked = settings(**given)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"monitor.plugins.{name}: {exc}") from exc
    check_fields(checked, f"monitor.plugins.{name}")  # the ranges its options declare
    return checked
