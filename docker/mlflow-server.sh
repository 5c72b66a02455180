#!/bin/sh
# MLflow tracking server for ganlab (the compose `mlflow` service runs this; so can you).
# Runs and metrics go to MLFLOW_BACKEND_STORE_URI (PostgreSQL in the compose stack; any
# SQLAlchemy URI such as sqlite:////srv/mlflow.db works); artifacts are proxied through
# the server into MLFLOW_ARTIFACTS_DESTINATION, so clients need no access to that storage.
#
#   MLFLOW_BACKEND_STORE_URI=postgresql://user:pass@db:5432/mlflow \
#   MLFLOW_ARTIFACTS_DESTINATION=/srv/mlflow-artifacts docker/mlflow-server.sh
#
# In the compose stack the store URI is built here from MLFLOW_DB_USER, MLFLOW_DB_PASSWORD,
# MLFLOW_DB_HOST, MLFLOW_DB_PORT and MLFLOW_DB_NAME, each part percent-encoded (a password
# may hold any character: '%', '@', ':', '/'), for the role that owns only MLflow's
# database (docker/postgres-init.sh), not the superuser.
#
# MLFLOW_HOST (default 127.0.0.1: this machine only), MLFLOW_PORT (5000), MLFLOW_WORKERS
# (2) and MLFLOW_ALLOWED_HOSTS (the Host headers clients may use; MLflow refuses others)
# tune it.
#
# Accounts (a server a lab shares): MLFLOW_AUTH=true runs MLflow's basic-auth app. Every
# request then needs a user and password (clients: MLFLOW_TRACKING_USERNAME and
# MLFLOW_TRACKING_PASSWORD in their environment); a user may read every experiment
# (MLFLOW_AUTH_DEFAULT_PERMISSION, default READ) and log only into experiments they
# created or were granted. It needs MLFLOW_AUTH_ADMIN_PASSWORD (the `admin` account,
# created on first start; a placeholder is refused), MLFLOW_FLASK_SERVER_SECRET_KEY and
# MLFLOW_AUTH_DATABASE_URI (where users and permissions live; its own database).
# MLFLOW_AUTH_CACHE_TTL (seconds, default 0 = off) lets each worker remember a checked
# password that long: every request otherwise pays a PBKDF2 hash, which bounds the load a
# server takes (benchmarks/README.md); a changed or deleted password then keeps working
# on other workers for up to that long.
set -eu
if [ -z "${MLFLOW_BACKEND_STORE_URI:-}" ] && [ -n "${MLFLOW_DB_USER:-}" ]; then
    : "${MLFLOW_DB_PASSWORD:?set MLFLOW_DB_PASSWORD (docker/.env)}"
    MLFLOW_BACKEND_STORE_URI=$(python3 -c 'import os, urllib.parse
e = os.environ
q = lambda key, default="": urllib.parse.quote(e.get(key, default), safe="")
print("postgresql://%s:%s@%s:%s/%s" % (q("MLFLOW_DB_USER"), q("MLFLOW_DB_PASSWORD"),
      e.get("MLFLOW_DB_HOST", "postgres"), e.get("MLFLOW_DB_PORT", "5432"),
      q("MLFLOW_DB_NAME", "mlflow")))')
    MLFLOW_AUTH_DATABASE_URI=${MLFLOW_AUTH_DATABASE_URI:-$MLFLOW_BACKEND_STORE_URI}
fi
: "${MLFLOW_BACKEND_STORE_URI:?set MLFLOW_BACKEND_STORE_URI, e.g. postgresql://user:pass@host:5432/mlflow}"
: "${MLFLOW_ARTIFACTS_DESTINATION:?set MLFLOW_ARTIFACTS_DESTINATION, a folder or bucket for artifacts}"
case "$MLFLOW_BACKEND_STORE_URI" in
    *:change-me@* | *:changeme@* | *:password@*)
        echo "mlflow-server.sh: refusing a placeholder database password in MLFLOW_BACKEND_STORE_URI; set a real one (POSTGRES_PASSWORD in docker/.env)." >&2
        exit 2 ;;
esac
# The store URI (with its password) and the artifact root reach `mlflow server` through
# the environment (MLFLOW_BACKEND_STORE_URI, MLFLOW_ARTIFACTS_DESTINATION), never on its
# command line, where `ps` would show them to every user of the machine.
export MLFLOW_BACKEND_STORE_URI MLFLOW_ARTIFACTS_DESTINATION
# MLflow 3 sends usage telemetry unless told not to; off unless the lab opts in with
# MLFLOW_DISABLE_TELEMETRY=false (docs/guide.md, "Telemetry").
export MLFLOW_DISABLE_TELEMETRY="${MLFLOW_DISABLE_TELEMETRY:-true}"
set --
if [ "${MLFLOW_AUTH:-false}" = true ]; then
    case "${MLFLOW_AUTH_ADMIN_PASSWORD:-}" in
        "" | change-me | changeme | password | password1234)
            echo "mlflow-server.sh: MLFLOW_AUTH=true needs a real MLFLOW_AUTH_ADMIN_PASSWORD (MLFLOW_ADMIN_PASSWORD in docker/.env); it is empty or a placeholder." >&2
            exit 2 ;;
    esac
    : "${MLFLOW_FLASK_SERVER_SECRET_KEY:?MLFLOW_AUTH=true needs MLFLOW_FLASK_SERVER_SECRET_KEY (a long random string; docker/.env)}"
    : "${MLFLOW_AUTH_DATABASE_URI:?MLFLOW_AUTH=true needs MLFLOW_AUTH_DATABASE_URI, where users and permissions are kept}"
    # MLflow reads the auth app's settings from an ini file; the admin password stays in
    # the environment, out of the file
    MLFLOW_AUTH_CONFIG_PATH="$(mktemp /tmp/ganlab-mlflow-auth.XXXXXX)"
    # configparser reads '%' as the start of an interpolation: written as '%%'
    auth_uri=$(printf '%s' "$MLFLOW_AUTH_DATABASE_URI" | sed 's/%/%%/g')
    cat >"$MLFLOW_AUTH_CONFIG_PATH" <<EOF
[mlflow]
default_permission = ${MLFLOW_AUTH_DEFAULT_PERMISSION:-READ}
database_uri = ${auth_uri}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = ${MLFLOW_AUTH_CACHE_TTL:-0}
EOF
    export MLFLOW_AUTH_CONFIG_PATH MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY
    set -- --app-name basic-auth
fi
exec mlflow server "$@" \
    --serve-artifacts \
    --host "${MLFLOW_HOST:-127.0.0.1}" \
    --port "${MLFLOW_PORT:-5000}" \
    --workers "${MLFLOW_WORKERS:-2}" \
    --allowed-hosts "${MLFLOW_ALLOWED_HOSTS:-localhost,localhost:*,127.0.0.1,127.0.0.1:*}"
