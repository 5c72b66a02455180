"""ganlab: study how GAN training goes wrong.

Hydra composes a model, a loss formulation, a dataset and monitors into a run; every
run logs per-epoch statistics to MLflow so training phases can be compared across runs.
"""

__version__ = "0.1.0"
