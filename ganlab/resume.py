"""Which config a resumed run continues with.

The checkpoint's config is authoritative: `ganlab-train trainer.resume=<id>` needs no
other argument. A few keys may change on resume (more epochs, another device, where
things are written); any other override that contradicts the checkpoint is refused,
because the continued run would no longer be the run its MLflow params describe.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config import flatten
from ganlab.errors import CheckpointError

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
    flat_saved, flat_current = flatten(saved), flatten(current_plain)

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
