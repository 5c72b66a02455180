"""FID (and KID) of generated images via torch-fidelity.

Generated images go in as uint8 RGB (grayscale tiled), the input torch-fidelity's feature
extractors expect. The real set's statistics are cached by torch-fidelity under a name that
encodes the protocol - dataset, split, subset, resolution and feature extractor - because
its cache key ignores content: a name that did not say all of this would silently reuse
the wrong statistics. Computed once, they serve every later run and sweep job.

The metric key names the sample count: 10000 samples -> `quality/fid10k`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ganlab.config import FIDMonitorConfig
from ganlab.core.errors import GanlabError
from ganlab.core.safe_files import REMAKE, check_torch_file
from ganlab.core.seeding import generator
from ganlab.data.images import ImageData, to_uint8_rgb
from ganlab.models.classifier import register_with_torch_fidelity
from ganlab.monitors.base import EvalState, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor

INCEPTION = "inception-v3-compat"
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"


class UInt8Images(Dataset):
    """A tensor of uint8 (N, 3, H, W) images as torch-fidelity reads datasets."""

    def __init__(self, images: Tensor) -> None:
        self.images = images.cpu()

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]


def count_tag(n: int) -> str:
    """10000 -> '10k', 2500 -> '2500': the sample count in a metric key."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


@torch.no_grad()
def generate(g: torch.nn.Module, latents: Tensor, device: torch.device, batch: int) -> Tensor:
    """Float images in [-1, 1] from fixed latents, G in eval mode, on the CPU."""
    with evaluating(g):
        return torch.cat([g(z.to(device)).cpu() for z in latents.split(batch)])


def fidelity(
    generated: Tensor,
    real: Dataset,
    cache_name: str,
    cache_root: Path,
    extractor: str,
    cfg: FIDMonitorConfig,
    device: torch.device,
) -> dict[str, float]:
    """torch-fidelity's FID (and KID) of uint8 RGB `generated` against `real`."""
    import torch_fidelity

    kwargs = {
        "input1": UInt8Images(generated),
        "input2": real,
        "input2_cache_name": cache_name,
        "cache": True,
        "fid": True,
        "kid": cfg.kid,
        "prc": cfg.precision_recall,
        "isc": cfg.inception_score,
        "feature_extractor": extractor,
        "batch_size": cfg.batch_size,
        "cuda": device.type == "cuda",
        "verbose": False,
        "save_cpu_ram": True,
    }
    if cfg.kid:
        kwargs["kid_subset_size"] = min(1000, len(generated), len(real))  # type: ignore[arg-type]
    with checked_copies(Path(cache_root), cache_name) as private:
        # torch-fidelity unpickles its cache files and the Inception weights without
        # torch's weights_only protection; a shared data folder is a place a crafted
        # file could be put. So it reads private copies, each checked once, which no
        # one can swap between the check and the load; statistics it computes go back
        kwargs["cache_root"] = str(private)
        if extractor == INCEPTION:
            weights = Path(cfg.weights_path) if cfg.weights_path else hub_weights()
            if weights is not None and weights.is_file():
                copy = private / weights.name
                shutil.copyfile(weights, copy)
                check_torch_file(copy, "Inception weights", shown_as=weights)
                kwargs["feature_extractor_weights_path"] = str(copy)
            elif cfg.weights_path:
                kwargs["feature_extractor_weights_path"] = cfg.weights_path
        try:
            with safe_hub_loads():
                return torch_fidelity.calculate_metrics(**kwargs)
        except Exception as exc:
            if extractor == INCEPTION and not cfg.weights_path:
                raise GanlabError(
                    f"FID needs the Inception weights, which torch-fidelity could not "
                    f"download ({type(exc).__name__}): fetch {WEIGHTS_FILE} on a machine "
                    "with internet and set monitor.fid.weights_path to it, or use "
                    "monitor.fid.feature_extractor=classifier (no download)."
                ) from exc
            raise


@contextlib.contextmanager
def checked_copies(cache_root: Path, cache_name: str) -> Iterator[Path]:
    """A private folder (0700) holding a checked copy of each cached statistics file of
    `cache_name`; new files torch-fidelity writes there are copied back to `cache_root`."""
    with tempfile.TemporaryDirectory(prefix="ganlab-fid-") as tmp:
        private = Path(tmp)
        os.chmod(private, 0o700)
        before = set()
        for cached in sorted(cache_root.glob(f"{cache_name}*.pt")):
            copy = private / cached.name
            shutil.copyfile(cached, copy)  # read once: the copy is what is checked and loaded
            check_torch_file(copy, "cached FID statistics", REMAKE, shown_as=cached)
            before.add(cached.name)
        yield private
        cache_root.mkdir(parents=True, exist_ok=True)
        for made in private.glob(f"{cache_name}*.pt"):
            if made.name not in before:
                shutil.copyfile(made, cache_root / made.name)


def hub_weights() -> Path | None:
    """Where torch.hub keeps the Inception weights torch-fidelity downloads."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


@contextlib.contextmanager
def safe_hub_loads() -> Iterator[None]:
    """torch.hub's loader with weights_only=True while torch-fidelity runs (its default
    unpickles anything): a downloaded state dict needs nothing more."""
    original = torch.hub.load_state_dict_from_url
    torch.hub.load_state_dict_from_url = functools.partial(original, weights_only=True)
    try:
        yield
    finally:
        torch.hub.load_state_dict_from_url = original


def file_hash(path: Path) -> str:
    """8 hex digits of a file's content (missing file: of its name, so the error about
    it comes from torch-fidelity, which says what it expected)."""
    if not path.is_file():
        return hashlib.sha1(str(path).encode()).hexdigest()[:8]
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:8]


class FIDMonitor:
    name = "fid"
    measures_samples = True  # EMA generator: run again on it (keys under ema/)
    makes_figures = False

    def __init__(
        self,
        cfg: FIDMonitorConfig,
        data: ImageData,
        latent_dim: int,
        seed: int,
        cache_root: Path,
        extractor: str,
    ) -> None:
        self.cfg = cfg
        self.every_n_epochs = cfg.every_n_epochs
        self.latents = torch.randn(
            cfg.n_samples, latent_dim, generator=generator(seed, "monitor/fid")
        )
        images = data.images.cpu()
        self.real = UInt8Images(images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images)
        self.extractor = extractor
        self.cache_root = cache_root
        # torch-fidelity appends the extractor's name and layer to this in its cache file;
        # Inception weights from a file are part of the protocol too
        weights = (
            f"-w{file_hash(Path(cfg.weights_path))}"
            if extractor == INCEPTION and cfg.weights_path
            else ""
        )
        self.cache_name = f"ganlab-{data.identity}{weights}"
        self.tag = count_tag(cfg.n_samples)

    def __call__(self, state: EvalState) -> dict[str, float]:
        images = to_uint8_rgb(
            generate(state.generator, self.latents, state.device, self.cfg.batch_size)
        )
        result = fidelity(
            images,
            self.real,
            self.cache_name,
            self.cache_root,
            self.extractor,
            self.cfg,
            state.device,
        )
        prefix = "quality/" + ("" if self.extractor == INCEPTION else "classifier_")
        stats = {f"{prefix}fid{self.tag}": float(result["frechet_inception_distance"])}
        if self.cfg.kid:
            stats[f"{prefix}kid{self.tag}"] = float(result["kernel_inception_distance_mean"])
        if self.cfg.precision_recall:  # Inception only (the config refuses it otherwise)
            for name in ("precision", "recall"):
                stats[f"quality/inception_{name}_{self.tag}_k3"] = float(result[name])
        if self.cfg.inception_score:
            stats[f"quality/inception_is_{self.tag}"] = float(result["inception_score_mean"])
        return stats


@register_monitor("fid", settings=FIDMonitorConfig)
def build(ctx: MonitorContext) -> FIDMonitor | None:
    """Images: FID (and KID) through torch-fidelity, Inception or ganlab's classifier."""
    cfg = ctx.cfg.monitor.fid
    if not ctx.is_images or cfg.every_n_epochs <= 0:
        return None
    if cfg.feature_extractor == "classifier" and not ctx.has_classes:
        return None  # the classifier needs labelled images
    extractor = INCEPTION
    if cfg.feature_extractor == "classifier":
        # which images it trained on and for how long are part of the protocol, hence of
        # the name (and so of the cached reference statistics)
        classifier = ctx.classifier()
        extractor = register_with_torch_fidelity(
            classifier, f"ganlab-classifier-{classifier.identity}"
        )
    cache = Path(ctx.cfg.paths.data_root) / "fidelity_cache"
    return FIDMonitor(cfg, ctx.images, ctx.cfg.model.latent_dim, ctx.cfg.seed, cache, extractor)
