#!/bin/sh
# Back up the compose stack into DIR: the database (runs, params, metrics, tags, users and
# their password hashes, permissions: one PostgreSQL database) with pg_dump, and the
# artifact volume as a tar archive, with their SHA-256 sums. The stack keeps running; runs
# logging meanwhile may be caught half-way (their rows up to the dump, their later
# artifacts not), so back up between studies or accept that. DIR is made readable by its
# owner only (0700, files 0600): the dump holds every user's password hash.
#
#   docker/backup.sh /backups/ganlab-$(date +%F)
#   docker/restore.sh /backups/ganlab-2026-12-03      # into a fresh stack
#
# COMPOSE names the stack (default: docker compose -f docker/compose.yaml --env-file
# docker/.env).
set -eu
umask 077
dir=${1:?usage: docker/backup.sh DIR}
COMPOSE=${COMPOSE:-docker compose -f docker/compose.yaml --env-file docker/.env}
mkdir -p "$dir"
chmod 700 "$dir"
# shellcheck disable=SC2016,SC2086  # $POSTGRES_* expand inside the container; COMPOSE is a command line
$COMPOSE exec -T postgres sh -c 'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --format=custom' \
    >"$dir/database.dump"
# shellcheck disable=SC2086
$COMPOSE exec -T mlflow tar -C /artifacts -cf - . >"$dir/artifacts.tar"
(cd "$dir" && sha256sum database.dump artifacts.tar >SHA256SUMS)
chmod 600 "$dir/database.dump" "$dir/artifacts.tar" "$dir/SHA256SUMS"
echo "backup.sh: database ($(wc -c <"$dir/database.dump") bytes) and artifacts ($(wc -c <"$dir/artifacts.tar") bytes) in $dir"
