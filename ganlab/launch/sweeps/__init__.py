"""Sweeps: a parent MLflow run per `ganlab-train -m` (parent.py), and what makes a sweep's
jobs start fast: the warm process they fork from (warm.py, with warm_pause.py,
warm_exit.py and warm_registries.py, the modules it preloads only for their effects), a
job's command and process (job.py, job_command.py) and SLURM's signals and requeues
(slurm.py). The modules a job's process runs before the warm process's imports stay free
of torch, MLflow and matplotlib (an import-linter contract in pyproject.toml);
docs/contributing.md, "Why a sweep of short runs starts fast", says what each trick buys.
"""
