"""What a monitor's builder is given: the run's config and parts, the data, the fixed
evaluation sets every gradient monitor shares, and the dataset's classifier (trained or
loaded once, however many monitors use it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ganlab.config import GanlabConfig
from ganlab.data import Data, GaussianMixture, ImageData
from ganlab.losses import Formulation


class RunParts(Protocol):
    """What monitors need of a run's parts (ganlab.training's GanParts has it)."""

    data: Data
    formulation: Formulation
    device: torch.device


@dataclass
class MonitorContext:
    cfg: GanlabConfig
    formulation: Formulation  # the run's loss: the velocity and D-confidence monitors use it
    data: Data  # on the CPU
    z_eval: torch.Tensor  # the fixed evaluation latents (monitor.eval_latents of them)
    real: torch.Tensor  # the fixed real batch of the D-gradient monitor
    title: str  # the run's name, for figures
    device: torch.device
    _classifier: Any = field(default=None, repr=False)

    @property
    def is_mixture(self) -> bool:
        return isinstance(self.data, GaussianMixture)

    @property
    def is_images(self) -> bool:
        return isinstance(self.data, ImageData)

    @property
    def has_classes(self) -> bool:
        """Images with labels: ganlab's classifier can be trained on them."""
        return isinstance(self.data, ImageData) and self.data.labels is not None

    @property
    def mixture(self) -> GaussianMixture:
        """The data, for monitors of 2-D mixtures (their builders checked is_mixture)."""
        assert isinstance(self.data, GaussianMixture)
        return self.data

    @property
    def images(self) -> ImageData:
        """The data, for image monitors (their builders checked is_images)."""
        assert isinstance(self.data, ImageData)
        return self.data

    def settings(self, name: str) -> Any:
        """The checked settings of the added monitor `name`: `monitor.plugins.<name>` over
        its settings dataclass's defaults (a dict as given when it declares none)."""
        from ganlab.config import added_monitor_settings

        return added_monitor_settings(self.cfg.monitor, name)

    def classifier(self) -> Any:
        """The dataset's classifier, loaded from its cache or trained on first use."""
        if self._classifier is None:
            from ganlab.models.classifier import run_classifier, warn_if_weak

            self._classifier = run_classifier(self.cfg, self.data, self.device)  # type: ignore[arg-type]
            warn_if_weak(self._classifier, self.cfg.monitor.classifier.min_accuracy)
        return self._classifier
