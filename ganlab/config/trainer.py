"""`trainer.*`: the training loop."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option

PROGRESS = ("auto", "bar", "log", "none")


@dataclass
class TrainerConfig:
    """The training loop. Synthetic data is sampled, so an epoch is a number of G steps."""

    epochs: int = option(40, "number of epochs", ge=1)
    steps_per_epoch: int = option(
        250, "generator steps per epoch (mixtures are sampled: an epoch is a step count)", ge=1
    )
    batch_size: int = option(256, "samples per batch, real and fake alike", ge=1)
    n_critic: int = option(1, "discriminator steps per generator step (5 for WGAN files)", ge=1)
    checkpoint_every_n_epochs: int = option(
        1, "checkpoint interval in epochs (the last epoch is always saved)", ge=1
    )
    resume: str | None = option(
        None, "output folder, checkpoint file or MLflow run id of a run to continue"
    )
    num_threads: int | None = option(None, "torch CPU threads; null = torch's default", ge=1)
    max_abs_loss: float = option(
        1e8,
        "a mean D or G loss beyond this (in absolute value) ends the run as diverged, like a "
        "NaN does: runs with exploding losses are failures, not finished runs; 0 = off",
        ge=0,
    )
    progress: str = option(
        "auto",
        "`bar`, `log` (a line per epoch), `none`; `auto` = a bar on a terminal, lines in "
        "a sweep's jobs",
        choices=PROGRESS,
    )

    def __post_init__(self) -> None:
        check_fields(self, "trainer")
