"""`optim.g.*`, `optim.d.*`: one optimiser per network."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import check_fields, option, require

OPTIMIZERS = ("adam", "rmsprop")


@dataclass
class OptimizerConfig:
    """One network's optimiser. `betas` is Adam's; RMSprop ignores it."""

    name: str = option("adam", "optimiser", choices=OPTIMIZERS)
    lr: float = option(1e-3, "learning rate", gt=0)
    betas: list[float] = option(
        doc="Adam's betas, two numbers in [0, 1)", factory=lambda: [0.5, 0.999]
    )
    weight_decay: float = option(0.0, "L2 weight decay", ge=0)
    milestones: list[int] = option(
        doc="step schedule (torch's MultiStepLR): the rate is multiplied by `gamma` after "
        "each listed epoch, e.g. `optim.d.milestones=[30] optim.d.gamma=10`: a "
        "discriminator that overshoots mid-run",
        factory=list,
    )
    gamma: float = option(0.1, "factor applied at each milestone", gt=0)

    def lr_at(self, epoch: int) -> float:
        """The learning rate during `epoch` (1-based): lr x gamma^(milestones before it)."""
        return self.lr * self.gamma ** sum(1 for m in self.milestones if m < epoch)

    def check(self, prefix: str) -> None:
        check_fields(self, prefix)
        require(
            len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
            f"{prefix}.betas must be two numbers in [0, 1), got {list(self.betas)}.",
        )
        require(
            all(m >= 1 for m in self.milestones),
            f"{prefix}.milestones must be epochs >= 1, got {list(self.milestones)}.",
        )


@dataclass
class OptimConfig:
    g: OptimizerConfig = option(doc="the generator's optimiser", factory=OptimizerConfig)
    d: OptimizerConfig = option(doc="the discriminator's optimiser", factory=OptimizerConfig)

    def __post_init__(self) -> None:
        self.g.check("optim.g")
        self.d.check("optim.d")
