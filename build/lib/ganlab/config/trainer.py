"""`trainer.*`: the training loop."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option, require

PROGRESS = ("auto", "bar", "log", "none")
UPDATES = ("alternating", "simultaneous")


@dataclass
class TrainerConfig:
    """The training loop. Synthetic data is sampled, so an epoch is a number of G steps."""

    epochs: int = option(40, "number of epochs", ge=1)
    steps_per_epoch: int = option(
        250, "generator steps per epoch (mixtures are sampled: an epoch is a step count)", ge=1
    )
    batch_size: int = option(256, "samples per batch, real and fake alike", ge=1)
    n_critic: int = option(1, "discriminator steps per generator step (5 for WGAN files)", ge=1)
    updates: str = option(
        "alternating",
        "`alternating`: D steps, then a G step against the updated D; `simultaneous`: D and "
        "G gradients from the same forward pass and parameters, both applied together (as "
        "MM-nsat's reference code trains; needs n_critic = 1)",
        choices=UPDATES,
    )
    ema_decay: float = option(
        0.0,
        "an exponential moving average of G's weights, updated after every G step with this "
        "decay (e.g. 0.999); its samples and quality metrics are logged beside the raw G's "
        "under `ema/`; 0 = off",
        ge=0,
        lt=1,
    )
    snapshot_every_n_epochs: int = option(
        0,
        "keep G, D and the EMA G every n epochs and at the last as MLflow artifacts under "
        "snapshots/, for `ganlab-eval` (the best epoch's are every run's "
        "checkpoints/best.pt); 0 = off",
        ge=0,
    )
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
        require(
            self.updates == "alternating" or self.n_critic == 1,
            f"trainer.updates=simultaneous updates D and G once each per step; it cannot "
            f"take trainer.n_critic={self.n_critic}: set trainer.n_critic=1.",
        )
