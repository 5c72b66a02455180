#!/usr/bin/env bash
# Bring the compose stack up for real, on a machine with no registry of container images
# (CI): `make compose-check` runs this as root.
#
#  1. a Docker daemon of our own (host networking only: --bridge=none --iptables=false);
#  2. a Debian base image made with debootstrap (cached in the daemon between runs);
#  3. ganlab's image from docker/Dockerfile and a PostgreSQL image from
#     docker/ci/postgres.Dockerfile, both on that base (build args only: the public
#     defaults in docker/Dockerfile stay as users need them);
#  4. the stack with docker/compose.yaml + docker/ci/compose.ci.yaml, a small sweep in
#     the trainer service, then docker/ci/verify_stack.py checks with MLflow's client
#     that every run, metric and artifact is in PostgreSQL and the artifact volume;
#  5. `down` and `up` again (volumes kept), the same check; then `down -v`.
#
# Every service listens on 127.0.0.1 only. Environment knobs: GANLAB_DOCKER_ROOT (the
# daemon's data, default /var/lib/ganlab-docker), COMPOSE_CHECK_KEEP=1 (leave it up).
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-.venv/bin/python}
DOCKER_ROOT=${GANLAB_DOCKER_ROOT:-/var/lib/ganlab-docker}
export DOCKER_HOST=unix:///run/ganlab-docker.sock
BASE_IMAGE=ganlab-ci-base:bookworm
INDEX_PORT=18080            # this machine's package mirror, served to image builds
PG_PORT=15432               # not 5432: the machine may run its own PostgreSQL
MLFLOW_PORT=15000
PROJECT=ganlabci
STACK=/tmp/ganlab-compose-ci.yaml   # compose.yaml + the CI overlay, resolved
COMPOSE=(docker-compose -p "$PROJECT" -f "$STACK")
started=$(date +%s)
say() { echo "compose-check [$(( $(date +%s) - started ))s]: $*"; }

if [ "$(id -u)" != 0 ]; then
    if [ "${CI:-}" = true ]; then
        echo "compose-check: needs root (a Docker daemon and debootstrap); under CI=true it must run: failing" >&2
        exit 1
    fi
    echo "compose-check: needs root (a Docker daemon and debootstrap); skipped" >&2
    exit 0
fi
for tool in dockerd debootstrap docker-compose; do
    if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null; then
        echo "compose-check: $tool is not installed (make system-packages installs it)" >&2
        exit 1
    fi
done
export PATH="$PATH:/usr/sbin:/sbin"

# -- 1. the daemon ----------------------------------------------------------------------
our_daemon=""
if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (data in $DOCKER_ROOT)"
    our_daemon=1
    mkdir -p "$DOCKER_ROOT"
    dockerd --bridge=none --iptables=false --ip6tables=false --data-root "$DOCKER_ROOT" \
        --exec-root /run/ganlab-docker --pidfile /run/ganlab-docker.pid \
        --host "$DOCKER_HOST" >/var/log/ganlab-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -20 /var/log/ganlab-dockerd.log; exit 1; }
fi

# -- 2. the base image -------------------------------------------------------------------
index_server=""
cleanup() {
    if [ -z "${COMPOSE_CHECK_KEEP:-}" ]; then
        "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    [ -n "$index_server" ] && kill "$index_server" 2>/dev/null || true
    # the daemon this script started stops with it (its images stay cached on disk)
    if [ -n "$our_daemon" ] && [ -z "${COMPOSE_CHECK_KEEP:-}" ]; then
        kill "$(cat /run/ganlab-docker.pid)" 2>/dev/null || true
    fi
}
trap cleanup EXIT

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$(mktemp -d)
    say "making $BASE_IMAGE with debootstrap from $mirror (about two minutes, once)"
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
        bookworm "$rootfs" "$mirror" >/tmp/ganlab-debootstrap.log 2>&1 \
        || { tail -20 /tmp/ganlab-debootstrap.log; exit 1; }
    # trust what this machine trusts, and install Python packages from its mirror first
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ganlab-host-ca.crt"
    cp docker/ci/pip.conf "$rootfs/etc/pip.conf"
    cp docker/ci/pip-constraints.txt "$rootfs/etc/pip-constraints.txt"
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED   # the image is the environment
    echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
fi

# -- 3. the images -----------------------------------------------------------------------
say "serving the machine's package mirror to the builds on 127.0.0.1:$INDEX_PORT"
python3 -m http.server "$INDEX_PORT" --bind 127.0.0.1 --directory /opt \
    >/tmp/ganlab-index.log 2>&1 &
index_server=$!
for _ in $(seq 30); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$INDEX_PORT/')" \
        2>/dev/null && break
    sleep 0.5
done
say "building ganlab:latest and ganlab-ci-postgres:15 (cached after the first time)"
docker build --network host -q -f docker/Dockerfile -t ganlab:latest \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg TORCH_INDEX="http://127.0.0.1:$INDEX_PORT/pypi-more/simple" . >/dev/null
docker build --network host -q -f docker/ci/postgres.Dockerfile -t ganlab-ci-postgres:15 \
    --build-arg BASE_IMAGE="$BASE_IMAGE" docker/ci >/dev/null
kill "$index_server"; index_server=""

# -- 4. the stack, a sweep, the check ---------------------------------------------------
# Host networking has no published ports, and an overlay cannot delete the `ports` of
# compose.yaml (docker-compose 1.29 has no !reset): resolve both files into one, then drop
# the ports of every service on the host's network.
docker-compose -p "$PROJECT" --env-file docker/ci/ci.env \
    -f docker/compose.yaml -f docker/ci/compose.ci.yaml config >"$STACK"
"$PYTHON" - "$STACK" <<'PY'
import sys, yaml
path = sys.argv[1]
stack = yaml.safe_load(open(path))
for service in stack["services"].values():
    if service.get("network_mode") == "host":
        service.pop("ports", None)
yaml.safe_dump(stack, open(path, "w"), sort_keys=False)
PY
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
say "starting postgres and mlflow"
"${COMPOSE[@]}" up -d --no-build mlflow
say "running a sweep in the trainer service"
"${COMPOSE[@]}" run --rm trainer
artifacts=$(docker volume inspect -f '{{ .Mountpoint }}' "${PROJECT}_artifacts")
verify=("$PYTHON" docker/ci/verify_stack.py --tracking-uri "http://127.0.0.1:$MLFLOW_PORT"
        --database "postgresql://ganlab:ci-only-password@127.0.0.1:$PG_PORT/mlflow"
        --artifacts "$artifacts" --runs 2 --epochs 3)
"${verify[@]}" --save /tmp/ganlab-compose-before.json

# -- 5. restart: nothing lost ------------------------------------------------------------
say "restarting the stack (volumes kept)"
"${COMPOSE[@]}" down
"${COMPOSE[@]}" up -d --no-build mlflow
"${verify[@]}" --compare /tmp/ganlab-compose-before.json
say "the stack came up, ran a sweep, kept everything across a restart; tearing it down"
