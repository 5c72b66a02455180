"""Accounts on a tracking server running MLflow's basic-auth app: what `ganlab-server`
does for a lab's admin (create users, grant experiments). The caller's own credentials,
from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, must be an admin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ganlab.core.errors import TrackingError
from ganlab.tracking.server import check_credentials, not_authenticated, refusal_status

PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")


def _auth_client(uri: str) -> Any:
    import warnings

    with warnings.catch_warnings():  # importing MLflow's server warns about its own web stack
        warnings.simplefilter("ignore")
        from mlflow.server.auth.client import AuthServiceClient

    return AuthServiceClient(uri)


def _admin_call(uri: str, action: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except MlflowException as exc:
        status = refusal_status(exc)
        if status == 403:
            message = (
                f"{action} on {uri} needs an admin account (HTTP 403): set "
                "MLFLOW_TRACKING_USERNAME=admin and its MLFLOW_TRACKING_PASSWORD."
            )
        elif status == 401:
            message = not_authenticated(uri)
        else:
            message = f"{action} on {uri} failed: {exc}"
        raise TrackingError(message) from exc


def add_user(uri: str, username: str, password: str) -> None:
    """Create an account (the caller's credentials, from the environment, must be an
    admin's)."""
    check_credentials(uri)
    _admin_call(uri, "adding a user", lambda: _auth_client(uri).create_user(username, password))


def grant_experiment(uri: str, username: str, experiment: str, permission: str) -> str:
    """Give `username` `permission` on the experiment named `experiment` (created if it
    does not exist yet, so a lab can hand out experiments before their first run); the
    experiment's id."""
    check_credentials(uri)
    client = MlflowClient(tracking_uri=uri)
    found = _admin_call(
        uri, "looking up the experiment", lambda: client.get_experiment_by_name(experiment)
    )
    experiment_id = (
        found.experiment_id
        if found is not None
        else _admin_call(
            uri, "creating the experiment", lambda: client.create_experiment(experiment)
        )
    )
    auth = _auth_client(uri)
    _admin_call(
        uri,
        "granting a permission",
        lambda: auth.grant_user_permission(username, "experiment", str(experiment_id), permission),
    )
    return str(experiment_id)
