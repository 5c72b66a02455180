"""`ganlab-prepare`: fetch an image dataset, train its classifier and compute the FID
reference statistics, once, before training.

Every image run does this on first use anyway, but the jobs of a sweep would all do it
at the same moment; sweeps therefore call `prepare` before their jobs fan out, and on a
cluster you can run it once on a login node:

    ganlab-prepare experiment=phases_mnist
    ganlab-prepare dataset=cifar10 model=dcgan monitor.fid.weights_path=/models/inception.pth

It takes the same overrides as ganlab-train and is idempotent (cached results are reused).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import torch

from ganlab.config import GanlabConfig, validate
from ganlab.config.compose import compose_config
from ganlab.core.errors import GanlabError
from ganlab.data.images import ImageData, to_float
from ganlab.launch.overrides import check_overrides
from ganlab.training.build import build_parts, resolve_device

log = logging.getLogger("ganlab")


def prepare(cfg: GanlabConfig) -> list[str]:
    """Make the dataset, classifier and FID reference statistics of `cfg` ready."""
    from ganlab.monitors import image_quality_monitors
    from ganlab.monitors.fid import FIDMonitor, fidelity, to_uint8_rgb

    if cfg.dataset.kind != "image":
        return [f"dataset {cfg.dataset.name}: a 2-D mixture, nothing to prepare"]
    device = resolve_device(cfg.device)
    parts = build_parts(cfg, device)
    data = parts.data
    assert isinstance(data, ImageData)
    done = [f"dataset {data.identity}: {len(data)} images in {cfg.paths.data_root}"]
    for monitor in image_quality_monitors(cfg, parts):  # trains the classifier if needed
        done.append(f"monitor {monitor.name}: ready")
        if isinstance(monitor, FIDMonitor):
            probe = to_uint8_rgb(
                to_float(data.images[:16])
            )  # any images: the reference is the point
            fidelity(
                probe,
                monitor.real,
                monitor.cache_name,
                monitor.cache_root,
                monitor.extractor,
                monitor.cfg,
                device,
            )
            done.append(
                f"FID reference statistics '{monitor.cache_name}' ({monitor.extractor}) "
                f"cached in {monitor.cache_root}"
            )
    return done


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        check_overrides(args)
        cfg = validate(compose_config(args))
        torch.set_num_threads(cfg.trainer.num_threads or torch.get_num_threads())
        for line in prepare(cfg):
            print(line)
    except GanlabError as exc:
        print(f"ganlab-prepare: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cli() -> None:
    sys.exit(main())
