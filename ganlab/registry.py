"""One registry per extension point: the single place ganlab looks things up by name.

- `LOSSES`: a module in `ganlab/losses/` with an `@LOSSES.register("name")` factory
  `LossConfig -> Formulation` (+ `ganlab/conf/loss/<name>.yaml`);
- `RULES`: a module in `ganlab/rules/` with an `@RULES.register("name")` function
  `(history, EarlyStopConfig) -> Timeline`;
- `MONITORS`: a module in `ganlab/monitors/` with an `@register_monitor("name",
  settings=...)` builder, its settings dataclass beside it (read from
  `monitor.plugins.<name>`; ganlab's original monitors have blocks in
  ganlab/config/monitor.py);
- `MODELS`: a module in `ganlab/models/` with an `@register_model("name", kinds=...)`
  builder `(ModelConfig, data) -> (G, D)` (a preset `ganlab/conf/model/<name>.yaml` is
  optional);
- `ACTIVATIONS`: one `ACTIVATIONS.add("name", factory)` line in ganlab/models/layers.py;
- `LAYOUTS`: an `@LAYOUTS.register("name")` centres function in ganlab/data/mixtures.py;
- `DATASETS`: an `@register_dataset("name")` image loader in ganlab/data/images.py (a
  preset `ganlab/conf/dataset/<name>.yaml` is optional).

Config validation (the allowed values of `loss.name`, `early_stop.rule`, ...), error
messages listing the choices, docs/configuration.md and the parametrised tests all read
these registries, so adding an entry needs no edit anywhere else. A registry imports its
package the first time it is asked for names, so reading the config schema stays free
of torch until a name has to be checked.

**Plugins.** A package outside ganlab adds entries the same way, from a module named by
an entry point of the group `ganlab.plugins` in its own pyproject.toml:

    [project.entry-points."ganlab.plugins"]
    my_lab = "my_lab.ganlab_plugin"

ganlab imports every such module once, before any registry is read and before Hydra
composes (ganlab.config.register): a loss it registers is then a choice of `loss=`, a
rule (with its settings dataclass) of `early_stop=`, a model of `model=` and an image
dataset of `dataset=` (each with its settings dataclass, if any), and a monitor runs like
ganlab's own and reads its settings from `monitor.plugins.<name>`. docs/guide.md,
"Plugins", shows one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ganlab.core.errors import ConfigError

if TYPE_CHECKING:  # types only: the registries stay free of torch until a name is read
    from torch import Tensor, nn


# -- the extension points: what each kind of entry must be --------------------------------
# Configs are typed Any here: the registries sit below ganlab.config (whose choices read
# them); each entry's module names its own config class.


class Formulation(Protocol):
    """A loss formulation: D's and G's losses from D's raw outputs (ganlab.losses.base)."""

    @property
    def name(self) -> str: ...

    @property
    def logistic(self) -> bool: ...  # sigmoid(l) is a probability: the JS estimate applies

    @property
    def d_loss(self) -> Callable[[Tensor, Tensor], Tensor]: ...  # (l_real, l_fake) -> scalar

    @property
    def g_loss(self) -> Callable[[Tensor], Tensor]: ...  # l_fake -> scalar


class LossFactory(Protocol):
    """LOSSES: `LossConfig -> Formulation`."""

    def __call__(self, cfg: Any, /) -> Formulation: ...


class ModelBuilder(Protocol):
    """MODELS: `(ModelConfig, data) -> (generator, discriminator)`."""

    def __call__(self, cfg: Any, data: Any, /) -> tuple[nn.Module, nn.Module]: ...


@dataclass(frozen=True)
class ModelSpec:
    """A MODELS entry: its builder and what it needs of the rest of the config."""

    build: ModelBuilder
    kinds: tuple[str, ...]  # the data it generates: "mixture" (2-D points), "image"
    # its settings: a ganlab.config.ModelConfig subclass with fields of its own (`model.<x>`),
    # or None for ModelConfig as it is (latent_dim and the g/d NetConfig)
    settings: type[Any] | None = None


class ActivationFactory(Protocol):
    """ACTIVATIONS: a new activation module."""

    def __call__(self) -> nn.Module: ...


class Layout(Protocol):
    """LAYOUTS: a mixture's centres (n_modes x 2) from its MixtureConfig (a variant)."""

    def __call__(self, cfg: Any, /) -> Tensor: ...


class DatasetLoader(Protocol):
    """DATASETS: `(DatasetConfig, data_root) -> (uint8 images N x C x H x W, labels,
    number of classes, an identity naming the set)`."""

    def __call__(self, cfg: Any, data_root: Path, /) -> tuple[Tensor, Tensor, int, str]: ...


@dataclass(frozen=True)
class DatasetSpec:
    """A DATASETS entry: its loader and its settings."""

    load: DatasetLoader
    # a ganlab.config.ImageConfig subclass with fields of its own (`dataset.<x>`), or None:
    # the published datasets' settings (split, download; PublishedImagesConfig)
    settings: type[Any] | None = None


class Monitor(Protocol):
    """What MONITORS' builders return: measures taken at evaluation epochs."""

    name: str
    every_n_epochs: int  # 0 = off; evaluated at epoch 0, every n and at the last epoch
    makes_figures: bool  # returns {artifact path: Figure} instead of {metric key: value}
    measures_samples: bool  # measures only G's samples: run again on the EMA generator

    def __call__(self, state: Any, /) -> Mapping[str, Any]: ...


class MonitorBuilder(Protocol):
    """MONITORS: `MonitorContext -> Monitor`, or None when off or not for this data."""

    def __call__(self, ctx: Any, /) -> Monitor | None: ...


@dataclass(frozen=True)
class MonitorSpec:
    """A MONITORS entry: its builder and its settings dataclass.

    ganlab's own monitors read theirs from their block of ganlab.config.MonitorConfig
    (`monitor.quality.*`); a monitor added by one module (a plugin's, or a new one) from
    `monitor.plugins.<name>`, checked against `settings` while the config is validated and
    handed to the builder by MonitorContext.settings()."""

    build: MonitorBuilder
    settings: type[Any] | None = None


class Rule(Protocol):
    """RULES: a stopping rule (ganlab.rules.rule registers them with its settings)."""

    @property
    def name(self) -> str: ...

    @property
    def keys(self) -> tuple[str, ...]: ...  # the metrics it reads ("prefix/": every key under)

    @property
    def config(self) -> type[Any]: ...  # its settings: a dataclass extending EarlyStopConfig

    @property
    def apply(self) -> Callable[[Sequence[tuple[int, Mapping[str, float]]], Any], Any]: ...


T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    doc: str


PLUGIN_GROUP = "ganlab.plugins"
_plugins_loaded = False


def load_plugins() -> list[str]:
    """Import every module named by a `ganlab.plugins` entry point (once per process);
    their registrations add to the registries. The names of the modules loaded."""
    global _plugins_loaded
    if _plugins_loaded:
        return []
    _plugins_loaded = True
    from importlib.metadata import entry_points

    loaded = []
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a broken plugin is named, not a traceback
            raise ConfigError(
                f"the ganlab plugin '{entry.name}' ({entry.value}) failed to load: "
                f"{type(exc).__name__}: {exc}; fix or uninstall it."
            ) from exc
        loaded.append(entry.value)
    return loaded


class Registry(Generic[T]):
    """Named implementations of one kind of thing, filled by the modules that define them."""

    def __init__(self, kind: str, package: str, wrap: Callable[[Any], T] | None = None) -> None:
        self.kind = kind  # as users name it: "loss", "stopping rule"
        self.package = package  # imported (with its submodules) before the first lookup
        self.wrap = wrap  # turns a bare value (`@MONITORS.register` on a builder) into an entry
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, doc: str = "") -> Callable[[T], T]:
        """Decorator: register the decorated object under `name` (doc: its docstring's
        first line unless given)."""

        def decorate(value: T) -> T:
            self.add(name, value, doc)
            return value

        return decorate

    def add(self, name: str, value: T, doc: str = "") -> None:
        text = doc or _first_line(value)
        if self.wrap is not None:
            value = self.wrap(value)
        if name in self._entries and self._entries[name].value != value:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = Entry(name, value, " ".join(text.split()))

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        load_plugins()
        module = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            importlib.import_module(f"{self.package}.{info.name}")

    def registered_without_loading(self) -> tuple[str, ...]:
        """Names registered so far (plugins), without importing this registry's package."""
        return tuple(sorted(self._entries))

    def peek(self, name: str) -> T | None:
        """The entry `name` if it is registered so far (a plugin's), without importing this
        registry's package: what reading the config schema may do and stay free of torch."""
        entry = self._entries.get(name)
        return None if entry is None else entry.value

    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted."""
        self._load()
        return tuple(sorted(self._entries))

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} '{name}'; valid choices: {', '.join(self.names())}."
            )
        return self._entries[name].value

    def entries(self) -> Iterator[Entry[T]]:
        self._load()
        for name in sorted(self._entries):
            yield self._entries[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries


LOSSES: Registry[LossFactory] = Registry("loss", "ganlab.losses")
RULES: Registry[Rule] = Registry("stopping rule", "ganlab.rules.library")


def _monitor_spec(value: Any) -> MonitorSpec:
    return value if isinstance(value, MonitorSpec) else MonitorSpec(value)


MONITORS: Registry[MonitorSpec] = Registry("monitor", "ganlab.monitors", _monitor_spec)
MODELS: Registry[ModelSpec] = Registry("model", "ganlab.models")
ACTIVATIONS: Registry[ActivationFactory] = Registry("activation", "ganlab.models.layers")
LAYOUTS: Registry[Layout] = Registry("mixture layout", "ganlab.data.mixtures")
DATASETS: Registry[DatasetSpec] = Registry("image dataset", "ganlab.data.images")

DATA_KINDS = ("mixture", "image")


def register_model(
    name: str, kinds: Sequence[str], settings: type[Any] | None = None
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: a model builder `(ModelConfig, data) -> (G, D)` joins MODELS as `name`,
    for the data `kinds` it generates, with its own `settings` (a ModelConfig subclass) if
    it has any. `model=<name>` selects it; no YAML is needed (one adds a preset)."""
    unknown = sorted(set(kinds) - set(DATA_KINDS))
    if not kinds or unknown:
        raise ValueError(f"model '{name}': kinds must be among {DATA_KINDS}, got {list(kinds)}")

    def decorate(build: ModelBuilder) -> ModelBuilder:
        MODELS.add(name, ModelSpec(build, tuple(kinds), settings), _first_line(build))
        return build

    return decorate


def register_dataset(
    name: str, settings: type[Any] | None = None
) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator: an image loader `(DatasetConfig, data_root) -> (images, labels, classes,
    identity)` joins DATASETS as `name`, with its own `settings` (an ImageConfig subclass)
    if it has any. `dataset=<name>` selects it; no YAML is needed (one adds a preset)."""

    def decorate(load: DatasetLoader) -> DatasetLoader:
        DATASETS.add(name, DatasetSpec(load, settings), _first_line(load))
        return load

    return decorate


def register_monitor(
    name: str, settings: type[Any] | None = None
) -> Callable[[MonitorBuilder], MonitorBuilder]:
    """Decorator: a monitor builder `MonitorContext -> Monitor | None` joins MONITORS as
    `name`, with its settings dataclass. A monitor of ganlab's own has its block in
    ganlab.config.MonitorConfig; any other reads `monitor.plugins.<name>`, checked against
    `settings` (`ctx.settings("<name>")` in the builder gives the checked values)."""

    def decorate(build: MonitorBuilder) -> MonitorBuilder:
        MONITORS.add(name, MonitorSpec(build, settings), _first_line(build))
        return build

    return decorate


def _first_line(value: object) -> str:
    return (getattr(value, "__doc__", None) or "").strip().split("\n\n")[0]


ALL: dict[str, Registry[Any]] = {
    "losses": LOSSES,
    "rules": RULES,
    "monitors": MONITORS,
    "models": MODELS,
    "activations": ACTIVATIONS,
    "layouts": LAYOUTS,
    "image datasets": DATASETS,
}
