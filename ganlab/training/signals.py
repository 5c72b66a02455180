"""Signal magnitudes inside the training steps (seed 001, PGGAN: a collapse "starts when
the discriminator overshoots ... and the signal magnitudes escalate in both networks",
"over the course of a dozen minibatches").

Once-per-epoch evaluations can miss a sub-epoch escalation, so these statistics are read
inside the training loop, where they cost almost nothing:

- `train/d_logit_abs_mean`, `train/d_logit_abs_max`: D's mean |raw output| over real and
  fake batches, averaged over the epoch's D steps and its maximum over them (from the
  logits the D step computes anyway);
- `train/act_g_rms_max`, `train/act_d_rms_max`: the largest root-mean-square output of any
  linear/conv layer of G (resp. D), over the steps sampled every `every_n_steps` (forward
  hooks that are active only on those steps);
- `train/g_update_rel`, `train/d_update_rel`: how far each network's parameters moved in
  the epoch, ||theta_end - theta_start|| / ||theta_start||. A frozen generator (saturated
  minimax loss, dead units) shows as ~0 while its losses look unremarkable.

Everything is computed within an epoch, so a resumed run logs exactly what an
uninterrupted one does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.utils.hooks
from torch import Tensor, nn

PROBED_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def flat_parameters(module: nn.Module) -> Tensor:
    """A detached copy of all parameters as one vector."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()]).clone()


def relative_change(before: Tensor, module: nn.Module) -> float:
    """||theta_now - before|| / ||before||: 0 when nothing moved."""
    now = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    return float((now - before).norm() / before.norm().clamp_min(1e-12))


def reduce_steps(values: Sequence[Tensor]) -> Tensor:
    """One tensor of all elements of same-shaped tensors (scalars or per-sample batches)."""
    return torch.stack(list(values)) if values[0].dim() == 0 else torch.cat(list(values))


def step_means(collected: Mapping[str, Sequence[Tensor]]) -> dict[str, float]:
    """Each statistic's mean over an epoch's steps, from its detached per-step values
    (losses: one scalar per step; D's outputs: one batch per step), read once."""
    return {key: reduce_steps(values).mean().item() for key, values in collected.items()}


def logit_magnitudes(real: Sequence[Tensor], fake: Sequence[Tensor]) -> dict[str, float]:
    """Mean and max over D steps of each step's mean |logit| over its real and fake batch
    (`real[i]`, `fake[i]`: step i's raw D outputs).

    Steps with batches of one size (every loop here) are reduced in a few tensor ops for
    the whole epoch, not three per step."""
    if len({t.shape for t in real} | {t.shape for t in fake}) == 1:
        both = torch.cat([torch.stack(list(real)), torch.stack(list(fake))], dim=1)
        magnitudes = both.abs().flatten(1).mean(dim=1)
    else:
        magnitudes = torch.stack(
            [torch.cat([r, f]).abs().mean() for r, f in zip(real, fake, strict=True)]
        )
    return {
        "train/d_logit_abs_mean": float(magnitudes.mean()),
        "train/d_logit_abs_max": float(magnitudes.max()),
    }


class ActivationProbe:
    """Forward hooks recording each layer's output mean square on the sampled steps.

    Per epoch: `train/act_<net>_rms/<layer>` (the layer's largest RMS over the sampled
    steps; layers numbered in module order) and `train/act_<net>_rms_max` (over layers).

    The hooks are attached only while `active` is true: a module with any forward hook
    takes PyTorch's slow call path on every forward, which on the ring8 MLPs cost 5% of
    training when the hooks stayed attached and merely returned on unsampled steps.
    A hook takes one op, the output's L2 norm (RMS = norm / sqrt(numel), formed per
    epoch), where squaring and averaging it took two.
    """

    def __init__(self, networks: dict[str, nn.Module]) -> None:
        # per layer, (L2 norm, number of elements) of its output on each sampled forward
        self.records: dict[tuple[str, int], list[tuple[Tensor, int]]] = {}
        self._layers: list[tuple[str, int, nn.Module]] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        for name, network in networks.items():
            layers = [m for m in network.modules() if isinstance(m, PROBED_LAYERS)]
            for index, layer in enumerate(layers):
                self.records[(name, index)] = []
                self._layers.append((name, index, layer))

    @property
    def active(self) -> bool:
        return bool(self._handles)

    @active.setter
    def active(self, value: bool) -> None:
        if value and not self._handles:
            self._handles = [
                layer.register_forward_hook(self._hook(name, index))
                for name, index, layer in self._layers
            ]
        elif not value and self._handles:
            self.remove()

    def _hook(self, name: str, index: int):
        def record(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            self.records[(name, index)].append(
                (torch.linalg.vector_norm(output.detach()), output.numel())
            )

        return record

    def epoch_stats(self) -> dict[str, float]:
        """Largest RMS per layer and per network since the last call, then reset."""
        stats: dict[str, float] = {}
        for (name, index), values in self.records.items():
            if not values:
                continue
            norms = torch.stack([norm for norm, _ in values])
            counts = torch.tensor([size for _, size in values], dtype=norms.dtype)
            rms = float((norms / counts.sqrt()).max())
            stats[f"train/act_{name}_rms/{index}"] = rms
            key = f"train/act_{name}_rms_max"
            stats[key] = max(stats.get(key, 0.0), rms)
            values.clear()
        return stats

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def grad_norms_per_tensor(params: Sequence[Tensor]) -> list[Tensor]:
    """The L2 norm of each gradient of `params` (after backward): one fused call.

    Taken twice per training step, so it does no more than that: the total norm of each
    step is formed once per epoch, for all steps together, by `total_grad_norms`. A
    total per step (`torch.stack` and a norm on top) cost 40% more on a ring8 MLP (15 vs
    11 microseconds a call), and `get_total_norm` / `clip_grad_norm_`, which also group
    tensors by device and dtype on every call, twice as much (benchmarks/README.md,
    monitor_overhead.py). The caller passes a parameter list built once.
    """
    return list(torch._foreach_norm([p.grad for p in params if p.grad is not None]))


def total_grad_norms(per_step: Sequence[Sequence[Tensor]]) -> Tensor:
    """Each step's total gradient norm, sqrt(sum of its per-tensor norms squared), from
    `grad_norms_per_tensor`'s lists: one stack and one norm for a whole epoch."""
    if len({len(step) for step in per_step}) == 1:
        flat = torch.stack([norm for step in per_step for norm in step])
        return torch.linalg.vector_norm(flat.view(len(per_step), -1), dim=1)
    # a parameter without a gradient on some steps: the lists differ in length
    return torch.stack([torch.linalg.vector_norm(torch.stack(list(step))) for step in per_step])


def grad_norm_metrics(per_net: Mapping[str, Sequence[Sequence[Tensor]]]) -> dict[str, float]:
    """`monitor/grad_norm_<net>_mean` and `_max` over an epoch's steps, from each step's
    per-tensor norms (grad_norms_per_tensor) of each network ("d", "g")."""
    metrics: dict[str, float] = {}
    for net, per_step in per_net.items():
        if per_step:
            totals = total_grad_norms(per_step)
            metrics[f"monitor/grad_norm_{net}_mean"] = totals.mean().item()
            metrics[f"monitor/grad_norm_{net}_max"] = totals.max().item()
    return metrics


def step_signal_metrics(
    collected: Mapping[str, Sequence[Tensor]],
    probe: ActivationProbe | None,
    start: Mapping[str, Tensor],
    networks: Mapping[str, nn.Module],
) -> dict[str, float]:
    """The epoch's step-level signals: D's logit magnitudes (from `collected`'s d_real and
    d_fake), the probe's activation RMS, and how far each network in `start` moved."""
    metrics: dict[str, float] = {}
    if collected.get("d_real"):
        metrics |= logit_magnitudes(collected["d_real"], collected["d_fake"])
    if probe is not None:
        metrics |= probe.epoch_stats()
    for net, before in start.items():
        metrics[f"train/{net}_update_rel"] = relative_change(before, networks[net])
    return metrics
