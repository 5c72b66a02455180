#!/bin/sh
# Restore a backup made by docker/backup.sh into a fresh stack (empty volumes: after
# `down -v`, or on a new machine with the same docker/.env), then start the server.
#
#   docker/restore.sh /backups/ganlab-2026-12-03
#
# It refuses, before touching the stack, a backup whose SHA256SUMS does not list exactly
# the files the folder holds (database.dump and artifacts.tar) or whose files do not
# match their sums, and then a database that already holds tables (restore never merges).
# The dump is restored as MLflow's own role (MLFLOW_DB_USER), never as the superuser, so
# whatever it holds can do no more than MLflow itself can. COMPOSE names the stack, as
# for backup.sh.
set -eu
dir=${1:?usage: docker/restore.sh DIR}
COMPOSE=${COMPOSE:-docker compose -f docker/compose.yaml --env-file docker/.env}
damaged() {
    echo "restore.sh: $dir $1; the backup is damaged." >&2
    exit 2
}
[ -f "$dir/SHA256SUMS" ] || damaged "has no SHA256SUMS"
expected="artifacts.tar database.dump"
listed=$(awk '{ sub(/^\*/, "", $2); print $2 }' "$dir/SHA256SUMS" | sort | tr '\n' ' ' | sed 's/ $//')
present=$(cd "$dir" && find . -mindepth 1 -maxdepth 1 ! -name SHA256SUMS -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')
[ "$listed" = "$expected" ] || damaged "lists '$listed' in SHA256SUMS, not exactly '$expected'"
[ "$present" = "$expected" ] || damaged "holds '$present' beside SHA256SUMS, not exactly '$expected'"
(cd "$dir" && sha256sum --check --strict --quiet SHA256SUMS) >/dev/null 2>&1 \
    || damaged "does not match its SHA256SUMS"
# shellcheck disable=SC2086
$COMPOSE up -d postgres
ready=""
for _ in $(seq 120); do
    # shellcheck disable=SC2016,SC2086
    if $COMPOSE exec -T postgres sh -c 'pg_isready -q -U "$POSTGRES_USER" -d "$POSTGRES_DB"'; then
        ready=1; break
    fi
    sleep 1
done
[ -n "$ready" ] || { echo "restore.sh: the database did not start within 120 s." >&2; exit 1; }
# shellcheck disable=SC2016,SC2086
tables=$($COMPOSE exec -T postgres sh -c 'psql -tA -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "select count(*) from pg_tables where schemaname = current_schema()"')
if [ "$(echo "$tables" | tr -d '[:space:]')" != 0 ]; then
    echo "restore.sh: the stack's database is not empty; restore into a fresh stack (docker compose ... down -v, after a backup of what it holds)." >&2
    exit 2
fi
# shellcheck disable=SC2016,SC2086
$COMPOSE exec -T postgres sh -c 'pg_restore -U "$MLFLOW_DB_USER" -d "$POSTGRES_DB" --no-owner --no-privileges --exit-on-error' \
    <"$dir/database.dump"
# the server starts on the restored database; the artifacts go into its (empty) volume
# shellcheck disable=SC2086
$COMPOSE up -d mlflow
# shellcheck disable=SC2086
$COMPOSE exec -T mlflow tar -C /artifacts -xf - <"$dir/artifacts.tar"
echo "restore.sh: database and artifacts restored from $dir."
