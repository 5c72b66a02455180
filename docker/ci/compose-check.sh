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
#  5. accounts: a request without credentials is refused (401) while the sweep, run with
#     the admin's, logged every epoch; a second user made with ganlab-server cannot log
#     into the admin's experiment;
#  6. HTTPS: the nginx proxy (profile https) with a certificate made here for 127.0.0.1;
#     a run through it with the CA given finishes, one without is refused in one line;
#  7. `down` and `up` again (volumes kept), the same check;
#  8. docker/backup.sh, `down -v`, docker/restore.sh into the fresh stack: the same
#     check again; then `down -v`.
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
COMPOSE=(docker-compose -p "$PROJECT" -f "$STACK" --profile https)
TLS=/tmp/ganlab-ci-tls                 # TLS_CERT_DIR in docker/ci/ci.env
ADMIN_PASSWORD=$(sed -n 's/^MLFLOW_ADMIN_PASSWORD=//p' docker/ci/ci.env)
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
docker build --network host -q -t ganlab-proxy:latest \
    --build-arg BASE_IMAGE="$BASE_IMAGE" docker/proxy >/dev/null
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
as_admin=(env MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD="$ADMIN_PASSWORD")
"${as_admin[@]}" "${verify[@]}" --save /tmp/ganlab-compose-before.json
# MLflow connects as its own role, which owns its tables and is no superuser
db=(psql "postgresql://ganlab:ci-only-password@127.0.0.1:$PG_PORT/mlflow" -tA)
[ "$("${db[@]}" -c "select rolsuper from pg_roles where rolname = 'mlflow'")" = f ] \
    || { echo "compose-check: MLflow's database role is missing or a superuser" >&2; exit 1; }
[ "$("${db[@]}" -c "select count(*) from pg_tables where schemaname = 'public' and tableowner <> 'mlflow'")" = 0 ] \
    || { echo "compose-check: some of MLflow's tables are not its own role's" >&2; exit 1; }
say "MLflow's role (a password needing escapes) owns its tables and is no superuser"

# -- 5. accounts -------------------------------------------------------------------------
expect_refusal() {  # expect_refusal WHAT TEXT COMMAND...: exit 2 and TEXT in its last line
    local what=$1 text=$2 out; shift 2
    if out=$("$@" 2>&1); then echo "compose-check: $what was not refused" >&2; exit 1; fi
    if ! echo "$out" | tail -1 | grep -qF "$text"; then
        echo "compose-check: $what: expected '$text', got: $(echo "$out" | tail -3)" >&2; exit 1
    fi
}
code=$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$MLFLOW_PORT/api/2.0/mlflow/experiments/search?max_results=1")
[ "$code" = 401 ] || { echo "compose-check: a request without credentials got HTTP $code, not 401" >&2; exit 1; }
say "accounts: a request without credentials is refused (401)"
train_as() {  # train_as USER PASSWORD CA URI EXPERIMENT: a two-epoch run from this machine
    env MLFLOW_TRACKING_USERNAME="$1" MLFLOW_TRACKING_PASSWORD="$2" \
        MLFLOW_TRACKING_SERVER_CERT_PATH="$3" \
        "$PYTHON" -m ganlab tracking=server "tracking.uri=$4" "tracking.experiment=$5" \
        trainer.epochs=2 trainer.steps_per_epoch=10 trainer.progress=none \
        monitor=none early_stop=none "paths.root=$(mktemp -d)"
}
"${as_admin[@]}" GANLAB_NEW_PASSWORD=ci-only-bob-password "$PYTHON" -m ganlab.launch.server_admin \
    --tracking-uri "http://127.0.0.1:$MLFLOW_PORT" add-user bob
expect_refusal "bob logging into the admin's experiment" "user 'bob' may not log into experiment 'ganlab'" \
    train_as bob ci-only-bob-password "" "http://127.0.0.1:$MLFLOW_PORT" ganlab
say "accounts: a second user cannot log into the admin's experiment"

# -- 6. HTTPS through the proxy -----------------------------------------------------------
rm -rf "$TLS" && mkdir -p "$TLS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ganlab CI CA" \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$TLS/server.key" -out "$TLS/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$TLS/ext.cnf"
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" \
    -CAcreateserial -days 2 -extfile "$TLS/ext.cnf" -out "$TLS/server.crt" 2>/dev/null
chmod 644 "$TLS/server.key"         # read by nginx inside its container
"${COMPOSE[@]}" up -d --no-build proxy
https_uri="https://127.0.0.1:15443"
for _ in $(seq 60); do
    curl -sf --cacert "$TLS/ca.crt" "$https_uri/health" >/dev/null && break; sleep 1
done
curl -sf --cacert "$TLS/ca.crt" "$https_uri/health" >/dev/null \
    || { "${COMPOSE[@]}" logs --tail 20 proxy; echo "compose-check: the proxy does not answer" >&2; exit 1; }
expect_refusal "a client that does not know the lab's CA" "is not trusted" \
    train_as admin "$ADMIN_PASSWORD" "" "$https_uri" https-check
train_as admin "$ADMIN_PASSWORD" "$TLS/ca.crt" "$https_uri" https-check \
    >/tmp/ganlab-https-run.log 2>&1 || { tail -20 /tmp/ganlab-https-run.log; exit 1; }
"${as_admin[@]}" MLFLOW_TRACKING_SERVER_CERT_PATH="$TLS/ca.crt" "$PYTHON" - "$https_uri" <<'PY'
import sys
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
(run,) = client.search_runs([client.get_experiment_by_name("https-check").experiment_id])
steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "train/loss_d"))
assert run.info.status == "FINISHED" and steps == [1, 2], (run.info.status, steps)
PY
say "HTTPS: a run through the proxy finished with every epoch; without the CA, refused"
headers=$(curl -s -D - -o /dev/null --cacert "$TLS/ca.crt" "$https_uri/health")
echo "$headers" | grep -qi '^strict-transport-security: max-age=' \
    || { echo "compose-check: the proxy sends no HSTS header" >&2; exit 1; }
if echo "$headers" | grep -qi '^server: nginx/'; then
    echo "compose-check: the proxy names its nginx version" >&2; exit 1
fi
if curl -s -o /dev/null --cacert "$TLS/ca.crt" --tls-max 1.2 --ciphers AES128-SHA "$https_uri/health"; then
    echo "compose-check: the proxy accepted a CBC suite without forward secrecy" >&2; exit 1
fi
expect_refusal "an open proxy without accounts" "would be open to the network without logins" \
    docker run --rm --network host -e MLFLOW_AUTH=false -e HTTPS_BIND=0.0.0.0 ganlab-proxy:latest
say "the proxy: HSTS, no version, no CBC suites; it refuses to open the server without accounts"
say "guessing passwords: straight at the server, then through the proxy (benchmarks/login_guessing.py)"
"$PYTHON" benchmarks/login_guessing.py "http://127.0.0.1:$MLFLOW_PORT" "$https_uri" \
    --ca "$TLS/ca.crt" --seconds 5 | tee /tmp/ganlab-login-guessing.txt

# -- 7. restart: nothing lost ------------------------------------------------------------
say "restarting the stack (volumes kept)"
"${COMPOSE[@]}" down
"${COMPOSE[@]}" up -d --no-build mlflow
"${as_admin[@]}" "${verify[@]}" --compare /tmp/ganlab-compose-before.json

# -- 8. backup, a fresh stack, restore ----------------------------------------------------
backup=$(mktemp -d /tmp/ganlab-backup.XXXXXX)
COMPOSE="${COMPOSE[*]}" docker/backup.sh "$backup"
[ "$(stat -c %a "$backup")" = 700 ] && [ "$(stat -c %a "$backup/database.dump")" = 600 ] \
    || { echo "compose-check: the backup is readable beyond its owner" >&2; exit 1; }
damaged=$(mktemp -d /tmp/ganlab-backup-damaged.XXXXXX)
cp "$backup"/* "$damaged/" && printf 'x' >>"$damaged/artifacts.tar"
expect_refusal "a damaged backup" "the backup is damaged" \
    env COMPOSE="${COMPOSE[*]}" docker/restore.sh "$damaged"
sed -i '/artifacts.tar/d' "$damaged/SHA256SUMS"   # unlisted: its damage would go unseen
expect_refusal "a backup whose manifest leaves a file out" "not exactly" \
    env COMPOSE="${COMPOSE[*]}" docker/restore.sh "$damaged"
rm -rf "$damaged"
say "backed up (a damaged copy is refused); deleting the stack and its volumes"
"${COMPOSE[@]}" down -v
COMPOSE="${COMPOSE[*]}" docker/restore.sh "$backup"
artifacts=$(docker volume inspect -f '{{ .Mountpoint }}' "${PROJECT}_artifacts")
verify[7]=$artifacts                 # the fresh volume's folder
"${as_admin[@]}" "${verify[@]}" --compare /tmp/ganlab-compose-before.json
expect_refusal "a restore into a stack that holds runs" "the stack's database is not empty" \
    env COMPOSE="${COMPOSE[*]}" docker/restore.sh "$backup"
rm -rf "$backup"
say "the stack came up, ran a sweep, kept everything across a restart and a restore; tearing it down"
