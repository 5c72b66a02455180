"""`ganlab.Watch`: ganlab's monitors, phase labels and stopping rule in your own loop.

You keep your networks, optimisers and training steps; a Watch measures them the way a
`ganlab-train` run measures its own and logs to MLflow under the same keys: the gradient
monitors and D's confidence at each epoch, quality where your data allows it, the phase
label and rule score, the best epoch (its weights in `checkpoints/best.pt`), and at the end
phases.png and the verdict in the run's description.

    watch = ganlab.Watch(G, D, latent_dim=2, data="ring8", loss="ns", epochs=EPOCHS)
    for epoch in range(1, EPOCHS + 1):
        for step in range(STEPS):
            ...  # your D update
            watch.d_step(l_real, l_fake, loss_d)  # after D's backward
            ...  # your G update
            watch.g_step(loss_g)  # after G's backward
        if watch.end_epoch(epoch).stop:
            break
    watch.close()  # or use `with ganlab.Watch(...) as watch:`

`d_step` gives the rule D's raw outputs (the logit-escalation channel of the default rule
reads them) and, called after the backward pass, lets the Watch read the gradient norms
of D's parameters; `g_step` likewise for G. Both are optional: without them the epoch's
`train/*` statistics and parameter-gradient norms are missing, and a rule that reads them
(the default one, for logit escalation) watches with what is left.

What quality can be measured depends on `data`:

- a ganlab dataset's name (`"ring8"`, `"grid25"`, `"mnist"`, ... with `overrides` for its
  settings, e.g. `"dataset.centers=[[0,1],[1,0]]"` for `"custom"` modes): everything a
  ganlab run measures, quality included. `watch.data.sample(n, generator)` draws from it;
- a tensor of points (N x d): the gradient monitors, D's confidence and precision/recall
  in data space; no mode quality (there are no known modes), so the rule and the best
  epoch go without quality;
- a tensor of images (N x C x H x W, uint8 or floats in [-1, 1]) with `labels`: ganlab's
  classifier, trained on a held-out share of them, gives class quality, coverage and a
  domain FID; without labels, Inception FID when `monitor.fid.weights_path` names the
  weights (`overrides`), and sample grids.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from ganlab.config import GanlabConfig, validate
from ganlab.config.compose import compose_config
from ganlab.core.errors import ConfigError, TrainingFailed
from ganlab.core.secrets import credentials_to_environment
from ganlab.data import Data, ImageData, SampleSet, build_data
from ganlab.data.images import content_hash, to_uint8
from ganlab.losses import Formulation, build_formulation
from ganlab.monitors import EvalState, MonitorSuite, build_monitors
from ganlab.rules import PHASE_NAMES, EarlyStopper
from ganlab.tracking import check_tracking, resolve_tracking_uri, ui_hint
from ganlab.training.best import BEST_WEIGHTS, BestEpoch
from ganlab.training.checkpoint import atomic_save, weights_payload
from ganlab.training.launch_info import LaunchInfo
from ganlab.training.run import signals_config, start_tracking
from ganlab.training.signals import (
    ActivationProbe,
    flat_parameters,
    grad_norm_metrics,
    grad_norms_per_tensor,
    step_means,
    step_signal_metrics,
)
from ganlab.training.steps import STEP_STATS
from ganlab.training.summary import summarize_run

log = logging.getLogger("ganlab")


@dataclass
class EpochReport:
    """What `Watch.end_epoch` found: the epoch's logged metrics and the rule's reading."""

    epoch: int
    metrics: dict[str, float]
    phase: str  # fitting, refining, collapsing or failing
    triggered: bool  # the rule has triggered (now or at an earlier epoch)
    stop: bool  # triggered under early_stop.action=stop: end your loop now


@dataclass
class _Parts:
    """What the monitors need of a run (ganlab.monitors.context.RunParts)."""

    data: Data
    formulation: Formulation
    device: torch.device


@dataclass
class _Steps:
    """One epoch's per-step values, detached, reduced once at its end (as ganlab's loop)."""

    collected: dict[str, list[Tensor]] = field(default_factory=lambda: defaultdict(list))
    grad_norms: dict[str, list[list[Tensor]]] = field(default_factory=lambda: {"d": [], "g": []})
    g_steps: int = 0


def _data_overrides(data: str | Tensor) -> list[str]:
    """The `dataset` and `model` choices that describe `data` to the config."""
    if isinstance(data, str):
        return [f"dataset={data}"]
    if not isinstance(data, Tensor):
        raise ConfigError(
            f"Watch(data=...) got a {type(data).__name__}; pass a ganlab dataset's name "
            "(e.g. 'ring8'), a tensor of points (N x d) or a tensor of images (N x C x H x W)."
        )
    if data.dim() == 2:
        return []  # points: the mixture schema's monitors; no modes, so no quality
    if data.dim() == 4:
        return [
            "dataset=image_folder",
            "dataset.path='(images given to ganlab.Watch)'",
            f"dataset.channels={data.shape[1]}",
            *([f"dataset.image_size={data.shape[-1]}"] if data.shape[-1] in (28, 32) else []),
        ]
    raise ConfigError(
        f"Watch(data=...) got a tensor of shape {tuple(data.shape)}; pass points as N x d "
        "or images as N x C x H x W."
    )


def _own_data(data: Tensor, labels: Tensor | None, name: str) -> Data:
    """A user's tensor as the data the monitors measure against (on the CPU)."""
    data = data.detach().cpu()
    if data.dim() == 2:
        return SampleSet(name, data.float())
    images = data if data.dtype == torch.uint8 else to_uint8(data.float())
    if labels is not None:
        labels = labels.detach().cpu().long()
        if labels.shape != (images.shape[0],):
            raise ConfigError(
                f"Watch(labels=...) has shape {tuple(labels.shape)} for {images.shape[0]} "
                "images; pass one class index per image."
            )
    n_classes = int(labels.max()) + 1 if labels is not None else 0
    return ImageData(name, images, labels, n_classes, f"{name}-{content_hash(images, labels)}")


class Watch:
    """ganlab's monitors, phases and stopping rule on your own G, D and loop.

    Args:
        generator, discriminator: your networks (D returns raw scores, one per sample).
        latent_dim: the size of G's input.
        data: a ganlab dataset's name, a tensor of points or a tensor of images (module
            docstring: what each allows to measure).
        loss: the ganlab loss your D outputs are read with (`ns`, `wgan_gp`, `hinge`, ...):
            D's confidence and the particle velocity use it.
        seed: fixes the monitors' evaluation sets (the same seed gives the same sets as a
            `ganlab-train` run with that seed).
        epochs: how many epochs your loop trains, if known: every monitor also runs at the
            last one.
        rule: the stopping rule (`early_stop=<rule>`; the default is ganlab's).
        experiment, run_name, tracking_uri: where the run goes in MLflow (the default
            store is ganlab's: $MLFLOW_TRACKING_URI, else ./mlflow.db).
        labels: class indices of image data (its class quality).
        ema_generator: your averaged G, if any: the sample monitors run on it too (`ema/`).
        overrides: any other ganlab setting, as on the command line
            (`monitor.prdc.every_n_epochs=1`, `early_stop.action=stop`).
        params: your own hyper-parameters, logged as MLflow params beside ganlab's.
        output_dir: where config.yaml and checkpoints/best.pt go (default
            outputs/watch/<date>/<time>-<run name>).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        latent_dim: int,
        data: str | Tensor = "ring8",
        loss: str = "ns",
        seed: int = 0,
        epochs: int | None = None,
        rule: str | None = None,
        experiment: str = "own_loop",
        run_name: str | None = None,
        tracking_uri: str | None = None,
        labels: Tensor | None = None,
        ema_generator: nn.Module | None = None,
        overrides: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        output_dir: str | Path | None = None,
    ) -> None:
        self.generator, self.discriminator, self.ema_generator = (
            generator,
            discriminator,
            ema_generator,
        )
        name = run_name or f"{type(generator).__name__}-{loss}-s{seed}"
        if output_dir is None:
            output_dir = Path("outputs", "watch", time.strftime("%Y-%m-%d/%H-%M-%S") + f"-{name}")
        self.output_dir = Path(output_dir).resolve()
        choices = [
            *_data_overrides(data),
            f"loss={loss}",
            f"seed={seed}",
            f"model.latent_dim={latent_dim}",
            f"tracking.experiment={experiment}",
            f"paths.output_dir={self.output_dir}",
            *([f"trainer.epochs={epochs}"] if epochs is not None else []),
            *([f"early_stop={rule}"] if rule is not None else []),
        ]
        composed = compose_config([*choices, *overrides])
        if composed.dataset.kind == "image":  # the config's checks pair images with dcgan
            composed = compose_config([*choices, "model=dcgan", *overrides])
        if tracking_uri is not None:
            composed.tracking.uri = tracking_uri
        self.cfg: GanlabConfig = validate(composed)
        self.name = name
        self.last_epoch = epochs if epochs is not None else -1
        self.device = next(generator.parameters()).device

        if isinstance(data, str):
            self.data: Data = build_data(self.cfg.dataset, self.cfg.paths.data_root)
        else:
            self.data = _own_data(data, labels, f"{name}-data")
            self.cfg.dataset.name = "own"
        parts = _Parts(self.data, build_formulation(self.cfg.loss), self.device)
        self.monitors: MonitorSuite = build_monitors(self.cfg, parts, name)
        self.data = self.data.to(self.device)  # for your loop's draws, on G's device
        self.stopper = EarlyStopper(self.cfg.early_stop)
        self.best = BestEpoch(self.output_dir / "checkpoints" / BEST_WEIGHTS)
        self._params = {"d": list(discriminator.parameters()), "g": list(generator.parameters())}
        signals = signals_config(self.cfg)
        self._update_norms = signals is not None and signals.update_norms
        self._probe_every = signals.every_n_steps if signals is not None else 0
        self._probe = (
            ActivationProbe({"g": generator, "d": discriminator}) if self._probe_every else None
        )
        self._steps = _Steps()
        self._epoch = 0
        self._closed = False

        self.output_dir.mkdir(parents=True, exist_ok=True)
        uri = resolve_tracking_uri(
            self.cfg.tracking.uri and credentials_to_environment(self.cfg.tracking.uri),
            self.cfg.paths.root,
        )
        check_tracking(uri, self.cfg.tracking.require_server, self.cfg.tracking.check_timeout)
        self.uri = uri
        self.config_yaml = OmegaConf.to_yaml(OmegaConf.structured(self.cfg))
        logged = {
            "seed": seed,
            "watch.latent_dim": latent_dim,
            "watch.generator": type(generator).__name__,
            "watch.discriminator": type(discriminator).__name__,
            **{f"loss.{k}": v for k, v in _flat(self.cfg, "loss").items()},
            **(
                {f"dataset.{k}": v for k, v in _flat(self.cfg, "dataset").items()}
                if isinstance(data, str)
                else {"dataset.name": "own", "dataset.size": int(data.shape[0])}
            ),
            **{f"monitor.{k}": v for k, v in _flat(self.cfg, "monitor").items()},
            **{f"early_stop.{k}": v for k, v in _flat(self.cfg, "early_stop").items()},
            **dict(params or {}),
        }
        self.tracker = start_tracking(
            self.cfg,
            uri,
            name,
            self.output_dir,
            LaunchInfo(),
            self.config_yaml,
            extra_tags={"model": type(generator).__name__, "ganlab.watch": "true"},
            params=logged,
        )
        # epoch 0: your initial networks, measured before any training (as every run)
        metrics, figures = self.monitors.evaluate(self._state({}), self.last_epoch)
        metrics["phase"] = float(self.stopper.timeline.phase_at(0))
        self._log(0, metrics, figures)
        self._start_epoch()

    # -- inside your epoch -------------------------------------------------------------
    def d_step(self, l_real: Tensor, l_fake: Tensor, loss: Tensor | None = None) -> None:
        """One discriminator update: D's raw outputs on its real and fake batch and its
        loss. Called after the backward pass, it also reads D's gradient norms."""
        steps = self._steps
        steps.collected["d_real"].append(l_real.detach())
        steps.collected["d_fake"].append(l_fake.detach())
        if loss is not None:
            steps.collected["loss_d"].append(loss.detach())
        self._grad_norms("d")

    def g_step(self, loss: Tensor | None = None) -> None:
        """One generator update and its loss; called after the backward pass, it also reads
        G's gradient norms. It counts the steps the activation probe samples."""
        steps = self._steps
        if loss is not None:
            steps.collected["loss_g"].append(loss.detach())
        self._grad_norms("g")
        steps.g_steps += 1
        if self._probe is not None:  # armed for the next step when it is sampled
            self._probe.active = (steps.g_steps + 1) % self._probe_every == 0

    def end_epoch(self, epoch: int | None = None) -> EpochReport:
        """Measure the networks after an epoch, apply the rule and log to MLflow.

        `epoch`: the number of epochs your loop has completed (by default one more than at
        the last call). The report's `stop` says when the rule asks your loop to end
        (early_stop.action=stop); checkpoints/best.pt holds the best epoch's weights."""
        started = time.perf_counter()
        epoch = self._epoch + 1 if epoch is None else int(epoch)
        if epoch <= self._epoch:
            raise ConfigError(
                f"Watch.end_epoch({epoch}) after epoch {self._epoch}; pass the number of "
                "completed epochs, which grows by one each call."
            )
        self._epoch = epoch
        metrics = self._train_metrics(epoch)
        evaluated, figures = self.monitors.evaluate(self._state(metrics), self.last_epoch)
        metrics.update(evaluated)
        if self.best.observe(epoch, metrics):
            payload = weights_payload(
                epoch, self.generator, self.discriminator, self.tracker.run_id, self.config_yaml
            )
            atomic_save(payload, self.best.path)
        metrics.update(self.best.metrics())
        was_triggered = self.stopper.triggered
        metrics.update(self.stopper.update(epoch, metrics))
        if self.stopper.triggered and not was_triggered:
            metrics["early_stop/trigger_epoch"] = float(epoch)
            kept = self.best.kept
            metrics["early_stop/stop_epoch"] = float(kept[0] if kept else epoch)
            log.info(
                "ganlab.Watch: rule '%s' triggered at epoch %d (%s)%s",
                self.cfg.early_stop.rule,
                epoch,
                self.stopper.timeline.cause,
                f"; the best weights so far are epoch {kept[0]}'s, in {self.best.path}"
                if kept
                else "",
            )
        metrics["time/eval_seconds"] = time.perf_counter() - started
        self._log(epoch, metrics, figures)
        self._start_epoch()
        phase = PHASE_NAMES[self.stopper.timeline.phase_at(epoch)]
        stop = self.stopper.triggered and self.cfg.early_stop.action == "stop"
        return EpochReport(epoch, metrics, phase, self.stopper.triggered, stop)

    # -- the end -----------------------------------------------------------------------
    def close(self, status: str = "FINISHED", reason: str | None = None) -> None:
        """Summarise the run (tags, verdict, phases.png), upload the best weights and end
        the MLflow run with `status` (FINISHED, FAILED or KILLED). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._probe is not None:
            self._probe.remove()
        try:
            summarize_run(
                self.tracker, self.cfg.early_stop, self.stopper, self.best.kept, self.name
            )
            if self.best.path.is_file():
                self.tracker.log_artifact(self.best.path, "checkpoints")
        finally:
            self.tracker.end(status, reason)
        log.info(
            "ganlab.Watch: %s after %d epochs; look: %s",
            status,
            self._epoch,
            ui_hint(self.uri, self.tracker.experiment_id, self.tracker.run_id),
        )

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        elif isinstance(exc, KeyboardInterrupt):
            self.close("KILLED", "interrupted by SIGINT (Ctrl-C)")
        else:
            self.close("FAILED", f"{type(exc).__name__}: {exc}")

    @property
    def run_id(self) -> str:
        return self.tracker.run_id

    # -- helpers -----------------------------------------------------------------------
    def _state(self, train_metrics: dict[str, float]) -> EvalState:
        return EvalState(
            self.generator,
            self.discriminator,
            self._epoch,
            self.device,
            train_metrics,
            self.ema_generator,
        )

    def _log(self, epoch: int, metrics: dict[str, float], figures: dict) -> None:
        if self.tracker.log_metrics(metrics, step=epoch):
            for artifact_file, figure in figures.items():
                self.tracker.log_figure(figure, artifact_file)
        for figure in figures.values():
            figure.clear()

    def _start_epoch(self) -> None:
        """A new epoch's bookkeeping: the parameters it starts from, the probe's first step."""
        self._steps = _Steps()
        if self._update_norms:
            self._start = {
                "g": flat_parameters(self.generator),
                "d": flat_parameters(self.discriminator),
            }
        if self._probe is not None:
            self._probe.active = 1 % self._probe_every == 0

    def _grad_norms(self, net: str) -> None:
        if not self.cfg.monitor.param_grads:
            return
        norms = grad_norms_per_tensor(self._params[net])
        if norms:  # called before any backward: no gradients to read
            self._steps.grad_norms[net].append(norms)

    def _train_metrics(self, epoch: int) -> dict[str, float]:
        """The epoch's train/* statistics and parameter-gradient norms, as ganlab's loop
        forms them (ganlab.training.steps)."""
        steps = self._steps
        if self._probe is not None:
            self._probe.active = False
        means = step_means(steps.collected)
        for key in ("loss_d", "loss_g"):
            if key in means and not math.isfinite(means[key]):
                raise TrainingFailed(f"non-finite train/{key} ({means[key]}) in epoch {epoch}")
        metrics = {f"train/{k}": means[k] for k in STEP_STATS if k in means}
        metrics |= grad_norm_metrics(steps.grad_norms)
        if self._probe_every or self._update_norms:  # the step-level signals are on
            start = self._start if self._update_norms else {}
            networks = {"g": self.generator, "d": self.discriminator}
            metrics |= step_signal_metrics(steps.collected, self._probe, start, networks)
        return metrics


def _flat(cfg: GanlabConfig, group: str) -> dict[str, Any]:
    """One config group's settings, flattened (`quality.every_n_epochs`)."""
    from ganlab.config import flatten

    node = OmegaConf.to_container(OmegaConf.structured(getattr(cfg, group)))
    return flatten(node) if isinstance(node, dict) else {}  # type: ignore[arg-type]
