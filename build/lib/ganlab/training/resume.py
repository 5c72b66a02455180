"""Resuming a run, in one place: where its checkpoint is, which config it continues
with, and whether there is anything left to train.

The checkpoint's config is authoritative: `ganlab-train trainer.resume=<id>` needs no
other argument. A few keys may change on resume (more epochs, another device, where
things are written); any other override that contradicts the checkpoint is refused,
because the continued run would no longer be the run its MLflow params describe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config import GanlabConfig, flatten, validate
from ganlab.config.dataset import own_fields
from ganlab.core.errors import CheckpointError, GanlabError
from ganlab.core.paths import CHECKPOINT_ARTIFACT
from ganlab.tracking import fetch_run_checkpoint, resolve_tracking_uri
from ganlab.training.checkpoint import load_checkpoint
from ganlab.training.launch_info import LaunchInfo

log = logging.getLogger("ganlab")

RESUMABLE = (
    "trainer.epochs",
    "trainer.resume",
    "trainer.progress",
    "trainer.num_threads",
    "trainer.checkpoint_every_n_epochs",
    "device",
    "paths",
    "tracking.uri",
    "tracking.log_checkpoint",
)


# Always this command's: where it writes, which store it logs to, what it resumes.
FROM_THIS_COMMAND = ("trainer.resume", "paths", "tracking.uri")


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def is_resumable(key: str) -> bool:
    return any(_under(key, prefix) for prefix in RESUMABLE)


def override_key(override: str) -> str:
    """'+trainer.epochs=3' -> 'trainer.epochs'; 'loss@x=ns' -> 'loss'."""
    return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]


def merge_resume_config(
    saved: dict[str, Any],
    current: DictConfig,
    overrides: list[str] | None,
    saved_choices: dict[str, str],
    current_choices: dict[str, str],
    source: str,
) -> DictConfig:
    """The saved config with the resumable keys of `current`.

    `overrides` are the keys the user set on this command line (None: compare every key,
    as when called from Python). Group overrides (`loss=mm`) are compared by option name.
    """
    current_plain = OmegaConf.to_container(current, resolve=True)
    assert isinstance(current_plain, dict)
    current_plain.pop("hydra", None)
    flat_saved, flat_current = flatten(saved), flatten(current_plain)  # type: ignore[arg-type]

    conflicts: list[str] = []
    if overrides is None:
        checked = [k for k in flat_saved.keys() | flat_current.keys() if not is_resumable(k)]
    else:
        checked = []
        for key in map(override_key, overrides):
            if key in saved_choices or key in current_choices:
                if saved_choices.get(key) != current_choices.get(key):
                    conflicts.append(
                        f"{key}={saved_choices.get(key)} (this command: {current_choices.get(key)})"
                    )
            elif not is_resumable(key):
                checked += [k for k in flat_current if _under(k, key)]
    for key in sorted(set(checked)):
        if flat_saved.get(key) != flat_current.get(key):
            conflicts.append(f"{key}={flat_saved.get(key)} (this command: {flat_current.get(key)})")
    if conflicts:
        shown = "; ".join(conflicts[:3]) + ("; ..." if len(conflicts) > 3 else "")
        raise CheckpointError(
            f"checkpoint {source} was trained with {shown}: drop those overrides to resume it, "
            "or start a new run without trainer.resume."
        )

    # The other resumable keys change only when set on this command line: an unset
    # trainer.epochs is the schema default, not a wish to train a 5-epoch run to 40.
    given = None if overrides is None else [*FROM_THIS_COMMAND, *map(override_key, overrides)]
    merged = OmegaConf.create(saved)
    for key, value in flat_current.items():
        taken = given is None or any(_under(key, prefix) for prefix in given)
        if is_resumable(key) and taken:
            OmegaConf.update(merged, key, value, force_add=True)
    return merged


def locate_checkpoint(spec: str, uri: str, output_dir: Path) -> Path:
    """`spec` is a checkpoint file, a run's output directory, or an MLflow run id."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if not (path / CHECKPOINT_ARTIFACT).is_file():
            raise GanlabError(
                f"trainer.resume={spec}: no checkpoint found in this folder "
                f"({CHECKPOINT_ARTIFACT} is missing); pass a run's output folder."
            )
        return path / CHECKPOINT_ARTIFACT
    if len(spec) == 32 and all(c in "0123456789abcdef" for c in spec):
        return fetch_run_checkpoint(uri, spec, CHECKPOINT_ARTIFACT, output_dir / "resumed_from")
    raise GanlabError(
        f"trainer.resume={spec}: not found (no such file or folder, and not an MLflow run "
        "id); pass a checkpoint file, a run's output folder or its run id."
    )


@dataclass
class ResumePoint:
    checkpoint: dict
    path: Path


def resolve_config(cfg: DictConfig, launch: LaunchInfo) -> tuple[GanlabConfig, ResumePoint | None]:
    """Validated config, and the checkpoint to continue from (None for a fresh run)."""
    if not cfg.trainer.resume:
        return validate(cfg), None
    fresh = validate(cfg)  # for paths and tracking of *this* command
    uri = resolve_tracking_uri(fresh.tracking.uri, fresh.paths.root)
    ckpt_path = locate_checkpoint(cfg.trainer.resume, uri, Path(fresh.paths.output_dir))
    checkpoint = load_checkpoint(ckpt_path)
    saved = OmegaConf.to_container(OmegaConf.create(checkpoint["config_yaml"]))
    assert isinstance(saved, dict)
    if "dataset" in saved:  # a checkpoint from before datasets had variants: its fields
        saved["dataset"] = own_fields(saved["dataset"])
    merged = merge_resume_config(
        saved,  # type: ignore[arg-type]
        cfg,
        launch.overrides,
        dict(checkpoint.get("choices", {})),
        launch.choices,
        str(ckpt_path),
    )
    return validate(merged), ResumePoint(checkpoint, ckpt_path)


def check_epochs_left(done: int, wanted: int, checkpoint: Path) -> None:
    """Resuming to fewer epochs than the checkpoint holds is a mistake; to exactly as
    many, a no-op that says so (the run is complete; the checkpoint is untouched)."""
    if wanted < done:
        raise GanlabError(
            f"trainer.epochs={wanted} but {checkpoint} has already trained {done} epochs; "
            f"to train further, pass trainer.epochs greater than {done}."
        )
    if wanted == done:
        log.info(
            "%s has already trained all %d epochs: nothing to do (pass trainer.epochs=N "
            "with N > %d to train further)",
            checkpoint,
            done,
            done,
        )
