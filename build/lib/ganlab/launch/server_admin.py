"""`ganlab-server`: accounts on a tracking server a lab shares (MLflow's basic-auth app,
`MLFLOW_AUTH=true docker/mlflow-server.sh` or the compose stack).

    export MLFLOW_TRACKING_URI=https://mlflow.lab.example:5443
    export MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=...   # an admin's
    GANLAB_NEW_PASSWORD=... ganlab-server add-user alice      # or typed at the prompt
    ganlab-server grant alice collapse-study                  # EDIT: alice logs runs there

Passwords come from the environment or a prompt, never from the command line (where `ps`
and shell histories would keep them). Every user can read every experiment unless the
server says otherwise (MLFLOW_AUTH_DEFAULT_PERMISSION); logging into one needs EDIT on
it, which its creator has and `grant` gives.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from ganlab.core.errors import GanlabError
from ganlab.tracking import is_server
from ganlab.tracking.accounts import PERMISSIONS, add_user, grant_experiment


def _new_password() -> str:
    password = os.environ.get("GANLAB_NEW_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("password for the new user: ")
    if not password:
        raise GanlabError(
            "no password for the new user: set GANLAB_NEW_PASSWORD or run in a terminal to type it."
        )
    return password


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ganlab-server", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="the server (default: MLFLOW_TRACKING_URI)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser(
        "add-user", help="create an account (password: GANLAB_NEW_PASSWORD or a prompt)"
    )
    add.add_argument("username")
    grant = commands.add_parser("grant", help="give a user a permission on an experiment")
    grant.add_argument("username")
    grant.add_argument("experiment", help="the experiment's name (created if new)")
    grant.add_argument("--permission", default="EDIT", choices=PERMISSIONS)
    args = parser.parse_args(argv)
    if not args.tracking_uri:
        parser.error("no server: pass --tracking-uri or set MLFLOW_TRACKING_URI.")
    if not is_server(args.tracking_uri):
        print(
            f"ganlab-server: error: {args.tracking_uri} is not a tracking server; accounts "
            "live on a server (http:// or https://, MLFLOW_AUTH=true).",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "add-user":
            add_user(args.tracking_uri, args.username, _new_password())
            print(f"user {args.username} created on {args.tracking_uri}")
        else:
            experiment_id = grant_experiment(
                args.tracking_uri, args.username, args.experiment, args.permission
            )
            print(
                f"{args.username} has {args.permission} on experiment '{args.experiment}' "
                f"(id {experiment_id}) on {args.tracking_uri}"
            )
    except GanlabError as exc:
        print(f"ganlab-server: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
