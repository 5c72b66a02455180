"""Entry points and fan-out: the commands, Hydra's app, sweeps, the warm process, SLURM."""
