"""Config validation: a mistake fails before training, in one sentence naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from ganlab.config import register, validate
from ganlab.core.paths import CONF_DIR
from ganlab.registry import LOSSES
from tests.conftest import run_cli
from tests.support import OTHER_VARIANTS_THEN, check_command_line

# every option file of conf/dataset/, sorted: the message must list exactly these
DATASETS = ", ".join(sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["loss=wgan_gpp"], "unknown loss 'wgan_gpp'; valid choices: hinge, lsgan, mm, mm_nsat"),
        (["dataset=ring9"], f"unknown dataset 'ring9'; valid choices: {DATASETS}."),
        (["experiment=nope"], "unknown experiment 'nope'"),
        (["trainer.n_critic=0"], "trainer.n_critic must be >= 1, got 0."),
        (["trainer.n_critic=abc"], "trainer.n_critic: value 'abc' of type 'str' could not"),
        (["trainer.epochs=0"], "trainer.epochs must be >= 1"),
        (["optim.d.lr=-0.1"], "optim.d.lr must be > 0, got -0.1."),
        (["optim.g.name=sgd"], "optim.g.name='sgd' is not valid; choose one of: adam, rmsprop."),
        (["optim.g.betas=[0.5]"], "optim.g.betas must be two numbers in [0, 1)"),
        (["dataset.std=0"], "dataset.std must be > 0, got 0.0."),
        (["dataset=custom", "dataset.centers=[]"], "dataset.centers is empty"),
        (["dataset=grid25", "dataset.n_modes=24"], "must be a square number for a grid"),
        # each dataset has only its own variant's settings
        (["dataset.spacing=3"], "'dataset.spacing' is not a setting of the chosen dataset"),
        (["dataset=mnist", "model=dcgan", "dataset.radius=1"], "'dataset.radius' is not a"),
        (["loss=mm_nsat", "loss.a=2"], "loss.a must be in [0, 1], got 2.0."),
        (["loss.clip=-1"], "loss.clip must be > 0 or null"),
        (["model.g.activation=gelu"], "model.g.activation='gelu' is not valid"),
        (["device=tpu"], "device='tpu' is not valid; choose one of: auto, cpu, cuda."),
        (["seed=-1"], "seed must be >= 0, got -1."),
        (["trainer.foo=1"], "'trainer.foo' is not a config key"),
        # a sweep is checked value by value, before any job starts
        (["loss=ns,mmx"], "unknown loss 'mmx'"),
        (["seed=0,1", "trainer.n_critic=1,0"], "trainer.n_critic must be >= 1, got 0."),
        # groups that do not fit together, in any combination of a sweep's values
        (["-m", "model=mlp,dcgan"], "model=dcgan is for images; use model=mlp with dataset=ring8."),
        (["model=mlp", "dataset=mnist"], "model=mlp cannot generate images; use model=dcgan"),
        (["-m", "model=dcgan,mlp", "dataset=mnist,ring8"], "model=dcgan is for images"),
        # a rule reading a monitor that is off would never fire, silently
        (
            ["early_stop=duality_gap"],
            "early_stop=duality_gap reads the duality gap, which is off; set "
            "monitor.duality_gap.every_n_epochs",
        ),
        # Hydra's own launcher group and its keys
        (["hydra/launcher=joblibb"], "unknown hydra/launcher 'joblibb'; valid choices: basic,"),
        (
            ["hydra/launcher=joblib", "hydra.launcher.n_jobz=2"],
            "'hydra.launcher.n_jobz' is not a config key",
        ),
    ],
)
def test_bad_override_gives_one_sentence(args: list[str], expected: str) -> None:
    problem = check_command_line(args)
    assert problem is not None
    assert expected in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["loss=wgan_gp", "dataset=grid25", "seed=3"],
        ["loss=ns,mm,mm_nsat", "seed=0,1,2"],
        ["experiment=phases_grid25"],
        ["early_stop=duality_gap", "monitor.duality_gap.every_n_epochs=5"],
        ["experiment=loss_zoo_ring8", "trainer.epochs=5"],
        ["dataset=custom", "dataset.centers=[[0,0],[3,0]]", "dataset.weights=[1,2]"],
        ["hydra/launcher=basic", "hydra.job.chdir=false"],
        # a launcher's own keys exist once the launcher is chosen on the same line
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "loss=ns,mm"],
        ["hydra/launcher=slurm", "hydra.launcher.timeout_min=10", "hydra.launcher.partition=gpu"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
        ["-m", "experiment=phases_mnist,phases_cifar10", "scale=smoke", "seed=0,1"],
    ],
)
def test_valid_overrides_pass(args: list[str]) -> None:
    assert check_command_line(args) is None


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_loss_option_composes(make_cfg, loss: str) -> None:
    cfg = validate(make_cfg(f"loss={loss}"))
    assert cfg.loss.name == loss


def test_loss_options_carry_their_paper_settings(make_cfg) -> None:
    wgan = validate(make_cfg("loss=wgan"))
    assert (wgan.loss.clip, wgan.trainer.n_critic, wgan.optim.d.name) == (0.01, 5, "rmsprop")
    gp = validate(make_cfg("loss=wgan_gp"))
    assert (gp.loss.gp_weight, gp.trainer.n_critic, gp.optim.g.betas) == (10.0, 5, [0.5, 0.9])
    # a command-line value beats the loss file's default
    assert validate(make_cfg("loss=wgan", "trainer.n_critic=2")).trainer.n_critic == 2


def test_cli_rejects_bad_option_before_training(tmp_path: Path) -> None:
    result = run_cli(["loss=wgan_gpp"], cwd=tmp_path, env={"GANLAB_ROOT": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "ganlab-train: error: unknown loss 'wgan_gpp'; valid choices: "
        "hinge, lsgan, mm, mm_nsat, ns, wgan, wgan_gp."
    ]
    assert not (tmp_path / "mlflow.db").exists()


def test_monitor_none_turns_every_monitor_off(tmp_path: Path) -> None:
    """`monitor=none` means no evaluation at all, for mixtures and images alike: every
    block of the schema that has an interval is switched off (new monitors included)."""
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["monitor=none", f"paths.output_dir={tmp_path}"])
    monitors = validate(cfg).monitor
    blocks = {
        name: getattr(monitors, name)
        for name in vars(monitors)
        if hasattr(getattr(monitors, name), "every_n_epochs")
    }
    assert {"quality", "steepness", "dgrad", "duality_gap", "fid", "classifier"} <= set(blocks)
    assert {name: block.every_n_epochs for name, block in blocks.items()} == dict.fromkeys(
        blocks, 0
    )
    assert monitors.param_grads is False


def claimed(experiment: Path) -> list[str]:
    """The datasets an overlay says it is for (its '# datasets:' line)."""
    line = next(x for x in experiment.read_text().splitlines() if x.startswith("# datasets:"))
    return [name.strip() for name in line.split(":", 1)[1].split(",")]


EXPERIMENTS = sorted((CONF_DIR / "experiment").glob("*.yaml"))
SCALES = sorted(p.stem for p in (CONF_DIR / "scale").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_overlay_composes_with_every_dataset_it_claims_at_every_scale(path: Path) -> None:
    assert claimed(path), f"{path.name} names no datasets"
    for dataset in claimed(path):
        for scale in SCALES:
            args = [f"experiment={path.stem}", f"dataset={dataset}", f"scale={scale}"]
            if dataset == "image_folder":
                args.append("dataset.path=/some/images")
            register()
            GlobalHydra.instance().clear()
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                cfg = compose("config", overrides=[*args, "paths.output_dir=."])
            GlobalHydra.instance().clear()
            run = validate(cfg)
            assert run.dataset.name == dataset, args
            if scale == "smoke":
                assert run.trainer.epochs == 6 and run.tracking.experiment == "smoke"


def test_conf_files_state_only_what_differs_from_the_schema() -> None:
    """Group files restate no default (the schema is the one place for defaults), so
    changing a default in ganlab/config/ changes it everywhere."""
    from omegaconf import OmegaConf

    from ganlab.config import GanlabConfig, dataset_config_class, flatten

    defaults = flatten(OmegaConf.to_container(OmegaConf.structured(GanlabConfig)))
    for group in ("model", "loss", "dataset", "monitor", "tracking"):
        for path in sorted((CONF_DIR / group).glob("*.yaml")):
            content = OmegaConf.to_container(OmegaConf.load(path)) or {}
            package_global = path.read_text().startswith("# @package _global_")
            flat = flatten(content if package_global else {group: content})
            schema = defaults
            if group == "dataset":  # a dataset file's schema is its variant's dataclass
                variant = OmegaConf.structured(dataset_config_class(content))
                schema = flatten({"dataset": OmegaConf.to_container(variant)})
            restated = {
                key: value
                for key, value in flat.items()
                if not key.endswith(".name") and key in schema and schema[key] == value
            }
            assert not restated, f"{path.relative_to(CONF_DIR)} restates defaults: {restated}"


DATASET_FILES = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("name", DATASET_FILES)
def test_each_dataset_composes_its_own_variant_and_nothing_else(name: str) -> None:
    """`dataset=<name>` brings the fields of its variant's dataclass, exactly: a run
    logs (flattens) only these as params."""
    import dataclasses

    from omegaconf import OmegaConf

    from ganlab.config import dataset_config_class

    args = [f"dataset={name}", "paths.output_dir=."]
    if name in ("mnist", "fashion_mnist", "cifar10", "image_folder"):
        args.append("model=dcgan")
    if name == "image_folder":
        args.append("dataset.path=/some/images")
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=args)
    GlobalHydra.instance().clear()
    node = OmegaConf.to_container(cfg.dataset)
    variant = dataset_config_class(node)
    assert set(node) == {f.name for f in dataclasses.fields(variant)}, name
    assert type(validate(cfg).dataset) is variant


def test_a_config_stored_before_datasets_had_variants_still_loads() -> None:
    """Checkpoints and snapshots made when every dataset carried every variant's fields
    resume and evaluate: those fields are dropped at their defaults; one that was set is
    named (the run depended on it)."""
    from ganlab.config import GanlabConfig, RingConfig
    from ganlab.core.errors import ConfigError

    union = {  # the dataset node of a ring8 run stored at a34abf7
        "name": "ring8", "kind": "mixture", "layout": "ring", "n_modes": 8, "radius": 2.0,
        "std": 0.02, "weights": None, **OTHER_VARIANTS_THEN,
    }  # fmt: skip
    stored = {"dataset": union, "paths": {"output_dir": "."}}
    loaded = validate(stored)
    assert isinstance(loaded, GanlabConfig) and loaded.dataset == RingConfig()
    with pytest.raises(ConfigError, match="'dataset.spacing' is not a setting"):
        validate({**stored, "dataset": {**union, "spacing": 3.0}})
