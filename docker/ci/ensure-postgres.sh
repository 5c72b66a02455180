#!/bin/sh
# The tests of ganlab's PostgreSQL store (tests/test_server.py) need a server on
# 127.0.0.1:5432 that lets the `postgres` user in without a password. Where none answers,
# install Debian's PostgreSQL, start its cluster and let local TCP connections in (trust,
# 127.0.0.1 only); as root with apt-get. `make system-packages` runs this. Under CI=true
# a server that cannot be had is a failure; elsewhere the tests that need it skip.
set -eu
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
usable() { psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; }
ready && usable && exit 0
fail() {
    echo "ensure-postgres: $1" >&2
    if [ "${CI:-}" = true ]; then echo "CI=true: every check must run: failing" >&2; exit 1; fi
    exit 0
}
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    || fail "no PostgreSQL on 127.0.0.1:5432 and no root apt-get to install it (apt-get install postgresql): the PostgreSQL tests are skipped"
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing Debian packages: postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1; } \
        || fail "could not install postgresql: the PostgreSQL tests are skipped"
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
hba=/etc/postgresql/$version/main/pg_hba.conf
if ! grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
    # first match wins in pg_hba.conf: the trust line goes first, for 127.0.0.1 only
    sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
for _ in $(seq 30); do ready && usable && { echo "PostgreSQL $version on 127.0.0.1:5432"; exit 0; }; sleep 1; done
fail "PostgreSQL $version did not accept the postgres user on 127.0.0.1:5432"
