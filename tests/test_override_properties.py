"""Property-based: random valid overrides always compose; any invalid one is always
reported in one line naming it (hypothesis generates the command lines)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganlab.registry import ACTIVATIONS, LOSSES, RULES
from tests.support import check_command_line

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def number(x: float) -> str:
    return repr(float(x))


VALID = {
    "loss": st.sampled_from(LOSSES.names()),
    "dataset": st.sampled_from(["ring8", "grid25", "spiral12", "custom"]),
    "seed": st.integers(0, 10**6).map(str),
    "trainer.epochs": st.integers(1, 500).map(str),
    "trainer.steps_per_epoch": st.integers(1, 5000).map(str),
    "trainer.batch_size": st.integers(1, 4096).map(str),
    "trainer.n_critic": st.integers(1, 10).map(str),
    "optim.g.lr": st.floats(1e-6, 1.0).map(number),
    "optim.d.betas": st.tuples(st.floats(0, 0.99), st.floats(0, 0.999)).map(
        lambda b: f"[{b[0]!r},{b[1]!r}]"
    ),
    "loss.gp_weight": st.floats(0, 100).map(number),
    "loss.instance_noise.sigma0": st.floats(0, 2).map(number),
    "dataset.std": st.floats(1e-4, 1).map(number),
    "model.latent_dim": st.integers(1, 256).map(str),
    "model.d.activation": st.sampled_from(ACTIVATIONS.names()),
    "monitor.steepness.method": st.sampled_from(["auto", "exact", "power"]),
    "early_stop.warmup_epochs": st.integers(0, 20).map(str),
    "early_stop": st.sampled_from(RULES.names()),  # the rule, by its group
}

# (key, invalid values, what the message must say)
INVALID = [
    ("trainer.epochs", st.integers(-100, 0).map(str), "trainer.epochs must be >= 1"),
    ("trainer.n_critic", st.integers(-5, 0).map(str), "trainer.n_critic must be >= 1"),
    ("optim.d.lr", st.floats(-10, 0).map(number), "optim.d.lr must be > 0"),
    ("dataset.std", st.floats(-1, 0).map(number), "dataset.std must be > 0"),
    (
        "loss",
        st.from_regex(r"[a-z]{3,9}", fullmatch=True).filter(lambda s: s not in LOSSES.names()),
        "unknown loss",
    ),
    (
        "trainer.batch_size",
        st.from_regex(r"[a-z]{2,6}", fullmatch=True).filter(
            lambda s: s not in ("null", "true", "false", "nan", "inf")
        ),
        "trainer.batch_size: value",
    ),
    ("model.g.activation", st.sampled_from(["gelu", "swish", "sigmoid"]), "model.g.activation="),
    ("early_stop.ema", st.floats(1.0001, 5).map(number), "early_stop.ema must be in (0, 1]"),
    ("early_stop.patience", st.integers(-5, 0).map(str), "early_stop.patience must be >= 1"),
]


@st.composite
def valid_overrides(draw) -> list[str]:
    keys = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True, max_size=5))
    overrides = [f"{key}={draw(VALID[key])}" for key in keys]
    if "early_stop=duality_gap" in overrides:  # the rule needs its monitor on
        overrides.append(f"monitor.duality_gap.every_n_epochs={draw(st.integers(1, 50))}")
    return overrides


@SETTINGS
@given(valid_overrides())
def test_valid_overrides_always_compose(overrides: list[str]) -> None:
    assert check_command_line(overrides) is None


@SETTINGS
@given(valid_overrides(), st.sampled_from(INVALID), st.data())
def test_an_invalid_override_is_always_named_in_one_line(valid, invalid, data) -> None:
    key, values, expected = invalid
    others = [
        o
        for o in valid
        if not o.startswith(key.split(".")[0] + "=") and not o.startswith(key + "=")
    ]
    problem = check_command_line([*others, f"{key}={data.draw(values)}"])
    assert problem is not None
    assert expected in problem
    assert "\n" not in problem
