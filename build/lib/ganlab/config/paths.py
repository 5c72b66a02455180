"""`paths.*`: where a run reads and writes."""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.config.fields import option


@dataclass
class PathsConfig:
    """Locations. `root` holds the embedded MLflow store; `output_dir` is the job's folder."""

    root: str = option(
        "${ganlab_root:}",
        "where the embedded store `mlflow.db` and `mlartifacts/` live (the project folder; "
        "the environment variable GANLAB_ROOT overrides it)",
    )
    output_dir: str = option(
        "${hydra:runtime.output_dir}",
        "where `checkpoints/`, `config.yaml` and `train.log` go (Hydra's job folder)",
    )
    data_root: str = option(
        "${paths.root}/data",
        "image datasets, cached FID statistics (`fidelity_cache/`) and classifiers "
        "(`classifiers/`)",
    )
