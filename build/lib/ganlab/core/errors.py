"""Exceptions whose message is shown to the user as-is, without a traceback.

A user mistake (bad config value, missing file, unreachable server) deserves one clear
sentence naming the problem and the fix; a traceback would bury it.
"""


class GanlabError(Exception):
    """A problem the user can fix; the message says how."""


class ConfigError(GanlabError, ValueError):
    """An impossible or unknown configuration value."""


class CheckpointError(GanlabError):
    """A checkpoint that cannot be read or does not fit the requested run."""


class TrackingError(GanlabError):
    """The MLflow tracking store cannot be used."""


class TrainingFailed(Exception):
    """Training stopped on a numerical failure (NaN/inf); the run is marked FAILED."""


class Terminated(BaseException):
    """SIGTERM arrived (docker stop, systemd, a scheduler's preemption or requeue), or
    SIGUSR2 (SLURM's warning before a time limit, as submitit asks for it).

    A BaseException, like KeyboardInterrupt for SIGINT, so that no `except Exception`
    on the way swallows it: the run ends KILLED, its last checkpoint kept.
    """

    def __init__(self, signal_name: str = "SIGTERM") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
