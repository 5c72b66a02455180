"""early_stop.action=rewind: back to the best weights so far at a collapse trigger, with
lower learning rates; exactly the weights it names, at most `rewind.max` times, resumed
exactly, and replayed as the rule read it online."""

from __future__ import annotations

import pytest
import torch

from ganlab.core.safe_files import load_tensors
from ganlab.rules import apply_rule, rule_config
from ganlab.rules.stopper import rewound
from ganlab.training.run import train
from ganlab.training.steps import Trainer
from tests.conftest import metric_by_step, metric_steps, metric_values
from tests.support import final_weights, logged_values

# Against its running minimum D's gradient scores >= tau = 0 at every evaluation: the
# rule fires at the first scored evaluation after a rewind, every time.
ALWAYS = (
    "early_stop=gradient",
    "early_stop.reference=running",
    "early_stop.tau=0",
    "early_stop.action=rewind",
    "early_stop.rewind.max=2",
    "early_stop.rewind.lr_scale=0.5",
)


def test_a_rewind_restores_exactly_the_best_weights_so_far(make_cfg, client, monkeypatch):
    restored: list[dict] = []
    original = Trainer.restore

    def spy(self, state):
        restored.append(
            {
                k: {n: t.clone() for n, t in v.items()}
                for k, v in state.items()
                if k in ("generator", "discriminator")
            }
        )
        original(self, state)

    monkeypatch.setattr(Trainer, "restore", spy)
    result = train(make_cfg("trainer.epochs=6", "trainer.snapshot_every_n_epochs=1", *ALWAYS))
    run_id = result.run_id
    to_epochs = [int(v) for v in metric_values(client, run_id, "rewind/to_epoch")]
    at_epochs = metric_steps(client, run_id, "rewind/to_epoch")
    assert len(to_epochs) == len(restored) == 2  # rewind.max, then only recorded
    assert metric_values(client, run_id, "rewind/count") == [1.0, 2.0]
    assert metric_values(client, run_id, "rewind/lr_factor") == [0.5, 0.25]
    # the best epoch so far by quality, as logged before each rewind
    quality = metric_by_step(client, run_id, "quality/hq_fraction")
    covered = metric_by_step(client, run_id, "quality/modes_covered")
    for at, back in zip(at_epochs, to_epochs, strict=True):
        seen = [e for e in quality if 1 <= e <= at]
        assert back == max(seen, key=lambda e: (quality[e] * covered[e], -e))
    # the weights restored are those the run had at that epoch, to the last bit
    for back, state in zip(to_epochs, restored, strict=True):
        local = client.download_artifacts(
            run_id, f"snapshots/epoch_{back:06d}.pt", str(result.output_dir / "dl")
        )
        snapshot = load_tensors(__import__("pathlib").Path(local), "snapshot")
        for net in ("generator", "discriminator"):
            for name, tensor in snapshot[net].items():
                assert torch.equal(state[net][name], tensor), (back, net, name)
    tags = client.get_run(run_id).data.tags
    assert tags["early_stop.rewinds"] == ", ".join(
        f"{a}->{b}" for a, b in zip(at_epochs, to_epochs, strict=True)
    )


def test_a_rewinding_run_resumes_exactly(make_cfg, client) -> None:
    # every monitor every epoch: the first part ends at epoch 3, where all of them run
    common = ("trainer.ema_decay=0.9", "monitor.prdc.every_n_epochs=1", *ALWAYS)
    straight = train(make_cfg("trainer.epochs=6", *common))
    first = train(make_cfg("trainer.epochs=3", *common))
    assert metric_steps(client, first.run_id, "rewind/to_epoch")  # rewound before the cut
    resumed = train(make_cfg("trainer.epochs=6", *common, f"trainer.resume='{first.output_dir}'"))
    history = logged_values(client, resumed.run_id)
    reference = logged_values(client, straight.run_id)
    assert history.keys() == reference.keys()
    for key, points in reference.items():
        assert [s for s, _ in history[key]] == [s for s, _ in points], key
        assert [v for _, v in history[key]] == pytest.approx([v for _, v in points]), key
    for name, tensor in final_weights(straight.checkpoint).items():
        torch.testing.assert_close(final_weights(resumed.checkpoint)[name], tensor)


def test_a_replay_reads_a_rewound_run_as_the_rule_did_online(make_cfg, client) -> None:
    from ganlab.tracking import metric_history

    result = train(make_cfg("trainer.epochs=6", *ALWAYS))
    history = metric_history(client, result.run_id)
    cfg = rule_config(
        "gradient", reference="running", tau=0.0, warmup_epochs=1, patience=1, window=1
    )
    replay = apply_rule(rewound(history), cfg)
    kept = [e for e, _ in rewound(history)]
    last_rewind = max(metric_steps(client, result.run_id, "rewind/to_epoch"))
    logged_phase = dict(
        zip(
            metric_steps(client, result.run_id, "phase"),
            metric_values(client, result.run_id, "phase"),
            strict=True,
        )
    )
    # after the last rewind the stopper's history is the rewound one: same decisions
    for epoch in kept:
        if epoch > last_rewind:
            assert logged_phase[epoch] == float(replay.phase_at(epoch)), epoch
    tags = client.get_run(result.run_id).data.tags
    assert tags["early_stop.trigger_epoch"] == str(replay.trigger_epoch)
