"""One training run: the Run, its epoch loop and steps, checkpoints, snapshots."""
