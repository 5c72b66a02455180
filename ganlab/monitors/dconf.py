"""How sure the discriminator is, on held-out reals and on the fakes of Z_eval.

- `monitor/d_sign_real`, `monitor/d_sign_fake`: E[sign(D(x) - threshold)] on each set.
  On reals this is StyleGAN2-ADA's over-fitting heuristic r_t (Karras et al. 2020,
  "Training Generative Adversarial Networks with Limited Data", section 3.1): 0 when D
  cannot tell, 1 when it calls every held-out real "real".
- `monitor/d_acc_real`, `monitor/d_acc_fake`, `monitor/d_acc`: the share D classifies
  correctly on each set, and their mean (balanced accuracy). A D that wins outright
  (accuracy near 1 for many epochs) leaves the generator without a useful gradient: the
  "never fitted" runs of the collapse benchmark (docs/collapse.md) show it.
- `monitor/d_logit_real_mean`, `monitor/d_logit_fake_mean`: the mean raw outputs.

The threshold is the loss's decision threshold (ganlab.losses.Formulation: 0 for logits
and hinge margins, 0.5 for LSGAN). A WGAN critic has none: its outputs shift freely, so
the midpoint of the two sets' medians is used and the accuracy then says how separable
D finds the sets.

The reals are a fixed fresh draw (their own random stream), never a training batch, so
for mixtures they are held out by construction; image runs draw them from the training
images (ImageData has one split in memory).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.config import DiscriminatorConfidenceConfig
from ganlab.core.seeding import generator
from ganlab.losses import Formulation
from ganlab.monitors.base import EvalState, evaluating
from ganlab.monitors.context import MonitorContext
from ganlab.registry import register_monitor


def confidence_stats(l_real: Tensor, l_fake: Tensor, threshold: float | None) -> dict[str, float]:
    """Sign and accuracy statistics of D's raw outputs on reals and on fakes."""
    l_real, l_fake = l_real.detach().double().flatten(), l_fake.detach().double().flatten()
    if threshold is None:
        threshold = float((l_real.median() + l_fake.median()) / 2)
    acc_real = float((l_real > threshold).double().mean())
    acc_fake = float((l_fake <= threshold).double().mean())
    return {
        "monitor/d_sign_real": float(torch.sign(l_real - threshold).mean()),
        "monitor/d_sign_fake": float(torch.sign(l_fake - threshold).mean()),
        "monitor/d_acc_real": acc_real,
        "monitor/d_acc_fake": acc_fake,
        "monitor/d_acc": (acc_real + acc_fake) / 2,
        "monitor/d_logit_real_mean": float(l_real.mean()),
        "monitor/d_logit_fake_mean": float(l_fake.mean()),
    }


class DiscriminatorConfidenceMonitor:
    name = "dconf"
    makes_figures = False
    measures_samples = False

    def __init__(
        self,
        cfg: DiscriminatorConfidenceConfig,
        z_eval: Tensor,
        real: Tensor,
        formulation: Formulation,
    ) -> None:
        self.every_n_epochs = cfg.every_n_epochs
        self.z_eval = z_eval
        self.real = real
        self.threshold = formulation.decision_threshold

    def __call__(self, state: EvalState) -> dict[str, float]:
        g, d = state.generator, state.discriminator
        with evaluating(g, d), torch.no_grad():
            l_fake = d(g(self.z_eval.to(state.device)))
            l_real = d(self.real.to(state.device))
        return confidence_stats(l_real, l_fake, self.threshold)


@register_monitor("dconf", settings=DiscriminatorConfidenceConfig)
def build(ctx: MonitorContext) -> DiscriminatorConfidenceMonitor | None:
    """D's sign statistics and accuracy on held-out reals vs fakes."""
    cfg = ctx.cfg.monitor.dconf
    if cfg.every_n_epochs <= 0:
        return None
    real = ctx.data.sample(cfg.n_real, generator(ctx.cfg.seed, "monitor/dconf"))
    return DiscriminatorConfidenceMonitor(cfg, ctx.z_eval, real, ctx.formulation)
