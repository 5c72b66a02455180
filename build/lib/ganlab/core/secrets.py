"""Credentials never stored: a tracking URI's `user:password@` leaves it at the door.

Lab wikis often give the tracking server as `http://alice:S3cret@host:5000`. MLflow reads
the same credentials from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, so every
command moves them there before anything else sees the URI (`credentials_to_environment`,
applied to the command line by `clean_arguments` and to MLFLOW_TRACKING_URI): the config,
its params and YAML files, Hydra's files, tags, checkpoints and logs then hold the URI
without them, and sweep jobs inherit them through the environment. `redact` hides any
that are left in a text (log records, error messages) as a second line of defence.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections.abc import MutableMapping, Sequence

from ganlab.core.errors import ConfigError

USERNAME_VAR, PASSWORD_VAR, URI_VAR = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_URI",
)
# scheme://userinfo@ : the userinfo part of any URL in a text
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")
URI_FLAGS = ("--tracking-uri",)
URI_KEYS = ("tracking.uri",)


def redact(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***`."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """(the URI without user:password, user, password); user None when there are none."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return clean, urllib.parse.unquote(user), urllib.parse.unquote(password)


def credentials_to_environment(uri: str, environ: MutableMapping[str, str] | None = None) -> str:
    """The URI without its credentials, which go to MLFLOW_TRACKING_USERNAME and
    MLFLOW_TRACKING_PASSWORD (where MLflow reads them); one sentence when the environment
    already names other credentials."""
    environ = os.environ if environ is None else environ
    clean, user, password = split_credentials(uri)
    if user is None:
        return uri
    for var, value in ((USERNAME_VAR, user), (PASSWORD_VAR, password or "")):
        if environ.get(var) and environ[var] != value:
            raise ConfigError(
                f"the tracking URI {redact(uri)} carries credentials and {var} is set to "
                "other ones; give them once, in MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD (the URI without user:password@)."
            )
        environ[var] = value
    return clean


def clean_arguments(
    args: Sequence[str], environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """A command line (and MLFLOW_TRACKING_URI) with the credentials of its tracking URIs
    moved to the environment: `tracking.uri=...`, `--tracking-uri ...` and
    `--tracking-uri=...`."""
    environ = os.environ if environ is None else environ
    if environ.get(URI_VAR):
        environ[URI_VAR] = credentials_to_environment(environ[URI_VAR], environ)
    out: list[str] = []
    follows_flag = False
    for arg in args:
        if follows_flag:
            arg = credentials_to_environment(arg, environ)
        else:
            key, equals, value = arg.partition("=")
            if equals and (key.lstrip("+~") in URI_KEYS or key in URI_FLAGS):
                arg = f"{key}={credentials_to_environment(value, environ)}"
        follows_flag = arg in URI_FLAGS
        out.append(arg)
    return out


class _Redacting(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 - logging's name
        return redact(super().getMessage())


def redact_log_records() -> None:
    """Every log record of this process redacts credentials from its message."""
    logging.setLogRecordFactory(_Redacting)


def clean_command_line(prog: str, argv: Sequence[str] | None) -> list[str]:
    """A command's arguments (sys.argv's when `argv` is None) through `clean_arguments`;
    a conflict is one line on stderr and exit 2, before anything runs."""
    import sys

    redact_log_records()
    try:
        return clean_arguments(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
