"""Structured config schema: every option ganlab accepts, its type, default and range.

Hydra merges the YAML files of `conf/` onto these dataclasses, so an unknown key or a
wrong type fails while composing. Ranges are checked in `__post_init__`, which runs when
`OmegaConf.to_object` turns the composed config into these objects (see `validate`), so
each rule sits next to the field it guards and fails with one sentence naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from ganlab.errors import ConfigError
from ganlab.paths import project_root

LOSS_NAMES = ("mm", "ns", "mm_nsat", "wgan", "wgan_gp", "lsgan", "hinge")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu", "silu")
OPTIMIZERS = ("adam", "rmsprop")
DEVICES = ("auto", "cpu", "cuda")
LAYOUTS = ("ring", "grid", "spiral", "custom")
PROGRESS = ("auto", "bar", "log", "none")
STEEPNESS_METHODS = ("auto", "exact", "power")
IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10", "image_folder")
STOP_RULES = ("gradient", "combined", "duality_gap", "oracle", "none")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    _require(
        value in choices, f"{key}={value!r} is not valid; choose one of: {', '.join(choices)}."
    )


def _positive(key: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    bound = ">= 0" if allow_zero else "> 0"
    _require(ok, f"{key} must be {bound}, got {value}.")


@dataclass
class PathsConfig:
    """Locations. `root` holds the embedded MLflow store; `output_dir` is the job's folder."""

    root: str = "${ganlab_root:}"
    output_dir: str = "${hydra:runtime.output_dir}"
    data_root: str = "${paths.root}/data"  # image datasets, FID statistics, classifiers


@dataclass
class TrainerConfig:
    """The training loop. Synthetic data is sampled, so an epoch is a number of G steps."""

    epochs: int = 40
    steps_per_epoch: int = 250
    batch_size: int = 256
    n_critic: int = 1  # discriminator steps per generator step
    checkpoint_every_n_epochs: int = 1
    resume: str | None = None  # output dir of a run, or its MLflow run id
    num_threads: int | None = None  # torch CPU threads; null = torch's default
    progress: str = "auto"  # auto: bar on a terminal, one log line per epoch otherwise

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, f"trainer.epochs must be >= 1, got {self.epochs}.")
        _require(
            self.steps_per_epoch >= 1,
            f"trainer.steps_per_epoch must be >= 1, got {self.steps_per_epoch}.",
        )
        _require(self.batch_size >= 1, f"trainer.batch_size must be >= 1, got {self.batch_size}.")
        _require(self.n_critic >= 1, f"trainer.n_critic must be >= 1, got {self.n_critic}.")
        _require(
            self.checkpoint_every_n_epochs >= 1,
            "trainer.checkpoint_every_n_epochs must be >= 1, "
            f"got {self.checkpoint_every_n_epochs}.",
        )
        _require(
            self.num_threads is None or self.num_threads >= 1,
            f"trainer.num_threads must be >= 1 or null, got {self.num_threads}.",
        )
        _choice("trainer.progress", self.progress, PROGRESS)


@dataclass
class OptimizerConfig:
    """One network's optimiser. `betas` is Adam's; RMSprop ignores it."""

    name: str = "adam"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    weight_decay: float = 0.0
    # step schedule (torch's MultiStepLR): lr is multiplied by `gamma` after each epoch
    # listed in `milestones`, e.g. milestones=[30] gamma=10: a D that overshoots mid-run
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1

    def lr_at(self, epoch: int) -> float:
        """The learning rate during `epoch` (1-based): lr x gamma^(milestones before it)."""
        return self.lr * self.gamma ** sum(1 for m in self.milestones if m < epoch)

    def check(self, prefix: str) -> None:
        _choice(f"{prefix}.name", self.name, OPTIMIZERS)
        _positive(f"{prefix}.lr", self.lr)
        _positive(f"{prefix}.gamma", self.gamma)
        _require(
            all(m >= 1 for m in self.milestones),
            f"{prefix}.milestones must be epochs >= 1, got {list(self.milestones)}.",
        )
        _positive(f"{prefix}.weight_decay", self.weight_decay, allow_zero=True)
        _require(
            len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
            f"{prefix}.betas must be two numbers in [0, 1), got {list(self.betas)}.",
        )


@dataclass
class OptimConfig:
    g: OptimizerConfig = field(default_factory=OptimizerConfig)
    d: OptimizerConfig = field(default_factory=OptimizerConfig)

    def __post_init__(self) -> None:
        self.g.check("optim.g")
        self.d.check("optim.d")


@dataclass
class NetConfig:
    """One network. MLP: `depth` hidden layers of `width` units. DCGAN: `width` channels
    in the layer nearest the image, doubling away from it (depth follows the resolution)."""

    width: int = 128
    depth: int = 2
    activation: str = "relu"
    spectral_norm: bool = False  # spectral normalisation of every linear/conv layer
    batch_norm: bool = False  # DCGAN: batch norm after each hidden conv layer
    pixel_norm: bool = False  # DCGAN G: PGGAN's pixelwise feature normalisation
    minibatch_std: bool = False  # DCGAN D: PGGAN's minibatch standard-deviation feature map

    def check(self, prefix: str) -> None:
        _require(self.width >= 1, f"{prefix}.width must be >= 1, got {self.width}.")
        _require(self.depth >= 1, f"{prefix}.depth must be >= 1, got {self.depth}.")
        _choice(f"{prefix}.activation", self.activation, ACTIVATIONS)


@dataclass
class ModelConfig:
    name: str = "mlp"
    latent_dim: int = 2
    g: NetConfig = field(default_factory=NetConfig)
    d: NetConfig = field(default_factory=lambda: NetConfig(activation="leaky_relu"))

    def __post_init__(self) -> None:
        _choice("model.name", self.name, ("mlp", "dcgan"))
        _require(self.latent_dim >= 1, f"model.latent_dim must be >= 1, got {self.latent_dim}.")
        self.g.check("model.g")
        self.d.check("model.d")


@dataclass
class InstanceNoiseConfig:
    """Gaussian noise added to both inputs of D; sigma anneals linearly to 0."""

    sigma0: float = 0.0  # 0 = off
    anneal_epochs: int = 10  # sigma reaches 0 after this many epochs; 0 = constant sigma0

    def __post_init__(self) -> None:
        _positive("loss.instance_noise.sigma0", self.sigma0, allow_zero=True)
        _require(
            self.anneal_epochs >= 0,
            f"loss.instance_noise.anneal_epochs must be >= 0, got {self.anneal_epochs}.",
        )


@dataclass
class LossConfig:
    """A loss formulation plus the stabilisers that apply to any of them."""

    name: str = "ns"
    a: float = 1.0  # mm_nsat: weight of the rescaled MM term (1 = pure MM-nsat)
    eps: float = 1e-18  # mm_nsat: keeps the ratio finite when D is certain
    gp_weight: float = 0.0  # gradient penalty lambda on D; 0 = off
    clip: float | None = None  # clip D's weights to [-clip, clip] after each step; null = off
    instance_noise: InstanceNoiseConfig = field(default_factory=InstanceNoiseConfig)

    def __post_init__(self) -> None:
        _choice("loss.name", self.name, LOSS_NAMES)
        _require(0.0 <= self.a <= 1.0, f"loss.a must be in [0, 1], got {self.a}.")
        _positive("loss.eps", self.eps)
        _positive("loss.gp_weight", self.gp_weight, allow_zero=True)
        _require(
            self.clip is None or self.clip > 0,
            f"loss.clip must be > 0 or null, got {self.clip}.",
        )


@dataclass
class DatasetConfig:
    """A 2-D Gaussian mixture (`kind: mixture`) or an image dataset (`kind: image`)."""

    name: str = "ring8"
    kind: str = "mixture"
    # -- mixtures: `layout` places the centres; `custom` takes them as given
    layout: str = "ring"
    n_modes: int = 8
    radius: float = 2.0  # ring: circle radius; spiral: outer radius
    spacing: float = 2.0  # grid: distance between neighbouring centres
    inner_radius: float = 0.5  # spiral: radius of the first mode
    turns: float = 1.5  # spiral: number of turns from the first to the last mode
    std: float = 0.02
    centers: list[Any] | None = None  # custom: one [x, y] per mode
    weights: list[float] | None = None  # mode probabilities (normalised); null = equal
    # -- images: mnist, fashion_mnist, cifar10 (torchvision) or image_folder
    split: str = "train"  # train | test
    download: bool = True  # let torchvision download when the files are missing
    subset: int | None = None  # use N images only, drawn with subset_seed (CPU studies)
    subset_seed: int = 0
    path: str | None = None  # image_folder: a folder of class sub-folders of images
    image_size: int = 32  # image_folder: resized (shorter side) and centre-cropped to this
    channels: int = 3  # image_folder: 1 (grayscale) or 3 (RGB)

    def __post_init__(self) -> None:
        _choice("dataset.kind", self.kind, ("mixture", "image"))
        if self.kind == "image":
            self._check_image()
            return
        _choice("dataset.layout", self.layout, LAYOUTS)
        _positive("dataset.std", self.std)
        if self.layout == "custom":
            _require(
                bool(self.centers),
                "dataset.centers is empty; a custom mixture needs at least one [x, y] centre.",
            )
            _require(
                all(
                    isinstance(c, list | tuple)
                    and len(c) == 2
                    and all(isinstance(v, int | float) for v in c)
                    for c in self.centers
                ),
                f"dataset.centers must be a list of [x, y] number pairs, got {self.centers}.",
            )
            self.n_modes = len(self.centers)
        _require(self.n_modes >= 1, f"dataset.n_modes must be >= 1, got {self.n_modes}.")
        if self.layout == "grid":
            side = round(self.n_modes**0.5)
            _require(
                side * side == self.n_modes,
                f"dataset.n_modes must be a square number for a grid, got {self.n_modes}.",
            )
        if self.weights is not None:
            _require(
                len(self.weights) == self.n_modes,
                f"dataset.weights has {len(self.weights)} entries for {self.n_modes} modes.",
            )
            _require(
                all(w >= 0 for w in self.weights) and sum(self.weights) > 0,
                "dataset.weights must be non-negative with a positive sum.",
            )

    def _check_image(self) -> None:
        _choice("dataset.name", self.name, IMAGE_DATASETS)
        _choice("dataset.split", self.split, ("train", "test"))
        _require(
            self.subset is None or self.subset >= 1,
            f"dataset.subset must be >= 1 or null, got {self.subset}.",
        )
        if self.name == "image_folder":
            _require(
                bool(self.path),
                "dataset.path is not set; point it at a folder of images "
                "(dataset=image_folder dataset.path=/my/images).",
            )
            _require(
                self.image_size in (28, 32),
                f"dataset.image_size must be 28 or 32 (DCGAN resolutions), got {self.image_size}.",
            )
            _choice("dataset.channels", str(self.channels), ("1", "3"))


@dataclass
class QualityMonitorConfig:
    """Mixture quality on samples from fixed latents (docs/method.md section 4)."""

    every_n_epochs: int = 1  # 0 = off
    n_samples: int = 2500
    hq_std: float = 3.0  # a sample is high quality within hq_std stds of its nearest centre
    min_count: int = 20  # a mode is covered with at least this many high-quality samples

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.quality.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(
            self.n_samples >= 2, f"monitor.quality.n_samples must be >= 2, got {self.n_samples}."
        )
        _positive("monitor.quality.hq_std", self.hq_std)
        _require(
            self.min_count >= 1, f"monitor.quality.min_count must be >= 1, got {self.min_count}."
        )


@dataclass
class ScatterMonitorConfig:
    """A PNG of generated samples over the true modes, logged as an MLflow artifact."""

    every_n_epochs: int = 10  # 0 = off; the last epoch is always drawn when on
    n_samples: int = 2500

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.scatter.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(
            self.n_samples >= 1, f"monitor.scatter.n_samples must be >= 1, got {self.n_samples}."
        )


@dataclass
class SteepnessMonitorConfig:
    """Spectral norm of the generator Jacobian dG/dz at each evaluation latent."""

    every_n_epochs: int = 1  # 0 = off
    method: str = "auto"  # exact | power | auto (exact when d_x * d_z <= exact_max_size)
    power_iterations: int = 20  # J^T J products; the estimate is Rayleigh-Ritz over them
    exact_max_size: int = 4096
    chunk_size: int = 1024  # latents per batched call (bounds memory)

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.steepness.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _choice("monitor.steepness.method", self.method, STEEPNESS_METHODS)
        _require(
            self.power_iterations >= 1,
            f"monitor.steepness.power_iterations must be >= 1, got {self.power_iterations}.",
        )
        _require(
            self.chunk_size >= 1,
            f"monitor.steepness.chunk_size must be >= 1, got {self.chunk_size}.",
        )


@dataclass
class DiscriminatorGradientConfig:
    """||grad_x D|| at fakes and at a fixed real batch; ||grad_x L_G|| at fakes."""

    every_n_epochs: int = 1  # 0 = off
    n_real: int = 1024  # size of the fixed real batch

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.dgrad.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(self.n_real >= 2, f"monitor.dgrad.n_real must be >= 2, got {self.n_real}.")


@dataclass
class DiscriminatorConfidenceConfig:
    """How sure D is: sign statistics (StyleGAN2-ADA's r_t) and accuracy on held-out
    reals vs the fakes of Z_eval (ganlab.monitors.dconf)."""

    every_n_epochs: int = 1  # 0 = off
    n_real: int = 1024  # held-out real samples (a fresh draw, never a training batch)

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.dconf.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(self.n_real >= 2, f"monitor.dconf.n_real must be >= 2, got {self.n_real}.")


@dataclass
class SignalsConfig:
    """Step-level signal magnitudes read inside training (ganlab.monitors.signals)."""

    # layer-output RMS of G and D on every n-th step (forward hooks); 0 = off
    every_n_steps: int = 10
    update_norms: bool = True  # how far G's and D's parameters moved in each epoch

    def __post_init__(self) -> None:
        _require(
            self.every_n_steps >= 0,
            f"monitor.signals.every_n_steps must be >= 0, got {self.every_n_steps}.",
        )


@dataclass
class DualityGapConfig:
    """DG = M(G, D_worst) - M(G_worst, D), each worst case found by `steps` of Adam."""

    # 0 = off; expensive (2 x steps optimiser steps, ~0.8 epochs of training on ring8):
    # every 20 keeps all default monitors under 10% of training time (benchmarks/)
    every_n_epochs: int = 20
    steps: int = 200
    lr: float = 1e-4
    batch_size: int = 256
    n_eval: int = 2048  # held-out real samples and latents on which M is evaluated
    perturb_std: float = 0.0  # > 0: also log the perturbed DG (noise on the copied weights)

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.duality_gap.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(self.steps >= 1, f"monitor.duality_gap.steps must be >= 1, got {self.steps}.")
        _positive("monitor.duality_gap.lr", self.lr)
        _require(
            self.batch_size >= 1,
            f"monitor.duality_gap.batch_size must be >= 1, got {self.batch_size}.",
        )
        _require(self.n_eval >= 2, f"monitor.duality_gap.n_eval must be >= 2, got {self.n_eval}.")
        _positive("monitor.duality_gap.perturb_std", self.perturb_std, allow_zero=True)


@dataclass
class FIDMonitorConfig:
    """FID (and optionally KID) of generated images against the real ones, torch-fidelity."""

    every_n_epochs: int = 5  # 0 = off
    n_samples: int = 10000  # generated images; the metric key names it (fid10k)
    feature_extractor: str = "inception-v3-compat"  # or "classifier": ganlab's, no download
    weights_path: str | None = None  # Inception weights file for offline machines
    kid: bool = False
    batch_size: int = 200

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.fid.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(self.n_samples >= 2, f"monitor.fid.n_samples must be >= 2, got {self.n_samples}.")
        _choice(
            "monitor.fid.feature_extractor",
            self.feature_extractor,
            ("inception-v3-compat", "classifier"),
        )
        _require(
            self.batch_size >= 1, f"monitor.fid.batch_size must be >= 1, got {self.batch_size}."
        )


@dataclass
class ClassifierMonitorConfig:
    """Class coverage of generated images by a small classifier ganlab trains once per
    dataset; its penultimate features also give a domain FID needing no download."""

    every_n_epochs: int = 5  # 0 = off
    n_samples: int = 10000
    domain_fid: bool = True
    train_epochs: int = 3  # training of the classifier (cached after the first time)

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.classifier.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(
            self.n_samples >= 2, f"monitor.classifier.n_samples must be >= 2, got {self.n_samples}."
        )
        _require(
            self.train_epochs >= 1,
            f"monitor.classifier.train_epochs must be >= 1, got {self.train_epochs}.",
        )


@dataclass
class GridMonitorConfig:
    """A grid of images from fixed latents, logged as an artifact."""

    every_n_epochs: int = 5  # 0 = off; the last epoch is always drawn when on
    n_samples: int = 64

    def __post_init__(self) -> None:
        _require(
            self.every_n_epochs >= 0,
            f"monitor.grid.every_n_epochs must be >= 0, got {self.every_n_epochs}.",
        )
        _require(self.n_samples >= 1, f"monitor.grid.n_samples must be >= 1, got {self.n_samples}.")


@dataclass
class MonitorConfig:
    # The fixed evaluation latent set Z_eval shared by the gradient monitors.
    eval_latents: int = 1024
    quality: QualityMonitorConfig = field(default_factory=QualityMonitorConfig)
    scatter: ScatterMonitorConfig = field(default_factory=ScatterMonitorConfig)
    steepness: SteepnessMonitorConfig = field(default_factory=SteepnessMonitorConfig)
    dgrad: DiscriminatorGradientConfig = field(default_factory=DiscriminatorGradientConfig)
    param_grads: bool = True  # norms of D's and G's parameter gradients, from training steps
    dconf: DiscriminatorConfidenceConfig = field(default_factory=DiscriminatorConfidenceConfig)
    signals: SignalsConfig = field(default_factory=SignalsConfig)
    duality_gap: DualityGapConfig = field(default_factory=DualityGapConfig)
    # image datasets only (mixtures use quality and scatter instead)
    fid: FIDMonitorConfig = field(default_factory=FIDMonitorConfig)
    classifier: ClassifierMonitorConfig = field(default_factory=ClassifierMonitorConfig)
    grid: GridMonitorConfig = field(default_factory=GridMonitorConfig)

    def __post_init__(self) -> None:
        _require(
            self.eval_latents >= 2,
            f"monitor.eval_latents must be >= 2, got {self.eval_latents}.",
        )


@dataclass
class EarlyStopConfig:
    """Phase labels and the stopping rule (docs/method.md section 5); every number a value here."""

    # Defaults chosen by replaying every setting on the ring8 and grid25 loss zoos
    # (README, "Choosing the rule"): a one-evaluation spike of D's gradient at fakes
    # against its recent median; the steepness term (beta) did not help there.
    rule: str = "gradient"  # gradient | duality_gap | oracle | none
    action: str = "stop"  # stop: end training at the trigger; record: only log it
    warmup_epochs: int = 5  # evaluations before references are kept
    # when scoring starts: "warmup" after warmup_epochs evaluations; "plateau" also not
    # before fitting has ended (the D gradient grows a lot while D learns)
    score_from: str = "warmup"
    # gradient rule, what the score compares against: "running" the running min (D
    # gradient) / max (steepness) since scoring started; "recent" the medians of the
    # previous `window` evaluations (a spike detector)
    reference: str = "recent"
    ema: float = 0.5  # smoothing weight of the newest value (1 = no smoothing)
    beta: float = 0.0  # weight of the steepness term in the collapse score
    # collapse score threshold; a log ratio: 2 = the smoothed D gradient 7.4x its recent
    # median, i.e. with ema 0.5 a one-evaluation jump of about 14x
    tau: float = 2.0
    patience: int = 1  # consecutive evaluations above tau that trigger
    window: int = 3  # evaluations for the plateau test, the reference and the stop search
    plateau_tol: float = 0.05  # fitting ends when steepness grows less than this (relative)
    dg_tol: float = 8.0  # duality_gap rule: rise above the minimum that counts (relative)
    # -- combined rule (ganlab.detectors; docs/collapse.md): a collapse channel fires when
    # its statistic reaches its threshold (0 turns a channel off); the score is the
    # largest statistic / threshold, so the rule triggers at score >= 1
    drift: float = 0.3  # CUSUM drift per evaluation, log units (slower trends never add)
    shift_window: int = 5  # CUSUM reference: the median of this many previous evaluations
    shift_up: float = 3.0  # CUSUM threshold, rises of log D-gradient (p90) at fakes
    shift_down: float = 0.0  # CUSUM threshold, falls of log D-gradient (settling also falls)
    escalation: float = 0.0  # spike of log D logit magnitude (step-level max) over its median
    # failing (never fitted): G frozen or D dominant for `fail_patience` evaluations
    frozen_tol: float = 1e-4  # G's relative parameter change per epoch below this = frozen
    dominance: float = 0.95  # D's balanced accuracy at or above this = dominant; 1 = off
    fail_patience: int = 5

    def __post_init__(self) -> None:
        _choice("early_stop.rule", self.rule, STOP_RULES)
        _choice("early_stop.action", self.action, ("stop", "record"))
        _choice("early_stop.score_from", self.score_from, ("warmup", "plateau"))
        _choice("early_stop.reference", self.reference, ("running", "recent"))
        _require(
            self.warmup_epochs >= 0,
            f"early_stop.warmup_epochs must be >= 0, got {self.warmup_epochs}.",
        )
        _require(0.0 < self.ema <= 1.0, f"early_stop.ema must be in (0, 1], got {self.ema}.")
        _positive("early_stop.beta", self.beta, allow_zero=True)
        _positive("early_stop.tau", self.tau, allow_zero=True)
        _require(self.patience >= 1, f"early_stop.patience must be >= 1, got {self.patience}.")
        _require(self.window >= 1, f"early_stop.window must be >= 1, got {self.window}.")
        _positive("early_stop.plateau_tol", self.plateau_tol, allow_zero=True)
        _positive("early_stop.dg_tol", self.dg_tol, allow_zero=True)
        for key in ("drift", "shift_up", "shift_down", "escalation", "frozen_tol"):
            _positive(f"early_stop.{key}", getattr(self, key), allow_zero=True)
        _require(
            0.5 <= self.dominance <= 1.0,
            f"early_stop.dominance must be in [0.5, 1], got {self.dominance}.",
        )
        _require(
            self.shift_window >= 1,
            f"early_stop.shift_window must be >= 1, got {self.shift_window}.",
        )
        _require(
            self.fail_patience >= 1,
            f"early_stop.fail_patience must be >= 1, got {self.fail_patience}.",
        )


@dataclass
class TrackingConfig:
    """Where runs are logged. `uri: null` means $MLFLOW_TRACKING_URI, else the embedded store."""

    uri: str | None = None
    experiment: str = "ganlab"
    run_name: str | None = None  # null = "<loss>-<dataset>-s<seed>"
    # MLflow run this run is a child of; sweeps set it for their jobs automatically
    parent_run_id: str | None = None
    require_server: bool = False  # refuse anything but an http(s) tracking server
    check_timeout: float = 5.0  # seconds to wait for a tracking server's /health at start-up

    def __post_init__(self) -> None:
        _positive("tracking.check_timeout", self.check_timeout)

    log_checkpoint: bool = True  # upload the final checkpoint as an artifact


@dataclass
class GanlabConfig:
    seed: int = 0
    device: str = "auto"
    paths: PathsConfig = field(default_factory=PathsConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        _choice("device", self.device, DEVICES)
        check_model_fits_data(self.model, self.dataset)


def check_model_fits_data(model: ModelConfig, dataset: DatasetConfig) -> None:
    """Cross-group check: MLPs generate 2-D mixtures, DCGANs images (28 or 32 pixels)."""
    if dataset.kind == "image" and model.name != "dcgan":
        raise ConfigError(
            f"model={model.name} cannot generate images; use model=dcgan with "
            f"dataset={dataset.name}."
        )
    if dataset.kind == "mixture" and model.name != "mlp":
        raise ConfigError(
            f"model={model.name} is for images; use model=mlp with dataset={dataset.name}."
        )


def register() -> None:
    """Make the schema and the `${ganlab_root:}` resolver known to Hydra/OmegaConf."""
    if not OmegaConf.has_resolver("ganlab_root"):
        OmegaConf.register_new_resolver("ganlab_root", project_root)
    ConfigStore.instance().store(name="ganlab_schema", node=GanlabConfig)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def validate(cfg: DictConfig | dict[str, Any]) -> GanlabConfig:
    """Resolve and range-check a composed config; raise ConfigError with one sentence."""
    cfg = OmegaConf.create(cfg) if not isinstance(cfg, DictConfig) else cfg
    user = {k: v for k, v in cfg.items() if k != "hydra"}  # Hydra's own node is not ours
    merged = OmegaConf.merge(OmegaConf.structured(GanlabConfig), user)
    obj = OmegaConf.to_object(merged)
    assert isinstance(obj, GanlabConfig)
    return obj
