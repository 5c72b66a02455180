"""Before any training: is the tracking server there, is its certificate trusted, are the
credentials accepted? One sentence with the fix for each way it is not."""

from __future__ import annotations

import os
import re

import requests
from mlflow.exceptions import MlflowException

from ganlab.core.errors import TrackingError
from ganlab.core.secrets import redact
from ganlab.tracking.store import is_server


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with the fix, when a tracking server does not answer /health, its
    certificate is not trusted, or it refuses our credentials.

    MLflow's client would otherwise retry with back-off for minutes before failing,
    after training time has already been spent.
    """
    url = uri.rstrip("/") + "/health"
    try:
        response = requests.get(url, timeout=timeout, verify=_verify())
    except requests.exceptions.SSLError as exc:
        raise TrackingError(untrusted_certificate(uri, exc)) from exc
    except requests.exceptions.RequestException as exc:
        reason = _short_reason(exc)
        raise TrackingError(
            f"tracking server {redact(uri)} is unreachable ({reason}); start it (docker compose -f "
            "docker/compose.yaml up -d mlflow, or docker/mlflow-server.sh) or point "
            "tracking.uri / MLFLOW_TRACKING_URI at a running one."
        ) from exc
    if response.status_code != 200:
        hint = (
            "; the server refuses this host name: start it with --allowed-hosts including it"
            if response.status_code in (400, 403)
            else ""
        )
        raise TrackingError(
            f"tracking server {uri} answered HTTP {response.status_code} on /health{hint}."
        )
    check_credentials(uri, timeout)


def _short_reason(exc: Exception) -> str:
    """'[Errno 111] Connection refused' out of requests' nested wording."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if found:
        return found.group(0).strip()
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    return text[:160]


def _verify() -> str | bool:
    """What MLflow's client verifies a server's certificate with: the lab's CA when
    MLFLOW_TRACKING_SERVER_CERT_PATH names one, else the system's."""
    return os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or True


def untrusted_certificate(uri: str, exc: Exception) -> str:
    reason = str(exc.__context__ or exc)
    for marker in (
        "certificate has expired",
        "self-signed certificate",
        "unable to get local issuer certificate",
        "Hostname mismatch",
        "IP address mismatch",
    ):
        if marker in reason:
            reason = marker
            break
    else:
        reason = reason[:160]
    return (
        f"the certificate of tracking server {uri} is not trusted ({reason}): if the lab "
        "signs its own, set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA certificate; if it "
        "expired, the server's admin must renew it."
    )


def check_credentials(uri: str, timeout: float = 5.0) -> None:
    """A server with accounts (MLflow's basic-auth app) answers /health to anyone but
    refuses everything else without a valid user: find out before any run exists, with
    the credentials MLflow's client will send (MLFLOW_TRACKING_USERNAME/PASSWORD)."""
    response = requests.get(
        uri.rstrip("/") + "/api/2.0/mlflow/experiments/search",
        params={"max_results": 1},
        auth=_credentials(),
        timeout=timeout,
        verify=_verify(),
    )
    if response.status_code == 401:
        raise TrackingError(not_authenticated(uri))


def _credentials() -> tuple[str, str] | None:
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    return (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", "")) if user else None


def not_authenticated(uri: str) -> str:
    """The one sentence for HTTP 401: which credentials were tried and where they go."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user is None:
        return (
            f"tracking server {uri} needs an account (HTTP 401): set MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD in the environment (never on the command line); "
            "the server's admin creates accounts (docs/guide.md, Sharing the server)."
        )
    return (
        f"tracking server {uri} refused user '{user}' (HTTP 401): check "
        "MLFLOW_TRACKING_PASSWORD (and MLFLOW_TRACKING_USERNAME) in the environment."
    )


def refusal_status(exc: MlflowException) -> int | None:
    """401 or 403 when a server with accounts refused the request, else None (MLflow's
    client puts the status only into its message)."""
    found = re.search(r"error code (401|403)\b", str(exc))
    return int(found.group(1)) if found else None


def describe_refusal(uri: str, experiment: str, exc: MlflowException) -> str | None:
    """One sentence for a refusal by a server with accounts (401, 403), else None."""
    status = refusal_status(exc)
    if status == 401:
        return not_authenticated(uri)
    if status == 403:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "?")
        return (
            f"user '{user}' may not log into experiment '{experiment}' on {uri} (HTTP 403): "
            "ask the server's admin to grant EDIT on it (`ganlab-server grant`), or log to "
            "an experiment of your own (tracking.experiment=<new name>)."
        )
    return None


def check_tracking(uri: str, require_server: bool, timeout: float) -> None:
    """Before any training: is the configured tracking store usable?"""
    if require_server and not is_server(uri):
        raise TrackingError(
            f"tracking=server needs a tracking server URL, got {uri}: set tracking.uri="
            "http://host:5000 or MLFLOW_TRACKING_URI."
        )
    if is_server(uri):
        check_server(uri, timeout)
