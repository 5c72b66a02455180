#!/bin/sh
# Start nginx with the listen address and the upstream server from the environment; refuse
# to start without a certificate and its key (the lab provides them: docs/guide.md), and
# refuse to open the server beyond this machine without accounts (MLFLOW_AUTH=false with
# HTTPS_BIND other than loopback: anyone on the lab's network could read and delete runs).
set -eu
case "${HTTPS_BIND:-127.0.0.1}" in
    127.* | localhost | ::1 | "[::1]") ;;
    *)
        if [ "${MLFLOW_AUTH:-true}" != true ]; then
            echo "proxy: refusing HTTPS_BIND=${HTTPS_BIND} with MLFLOW_AUTH=${MLFLOW_AUTH}: the server would be open to the network without logins; set MLFLOW_AUTH=true (docker/.env) or bind to 127.0.0.1." >&2
            exit 2
        fi ;;
esac
for file in server.crt server.key; do
    if [ ! -s "/etc/ganlab-tls/$file" ]; then
        echo "proxy: /etc/ganlab-tls/$file is missing; put the lab's certificate and key in TLS_CERT_DIR (docker/.env)." >&2
        exit 2
    fi
done
sed -e "s|@LISTEN@|${PROXY_LISTEN:-443}|" -e "s|@UPSTREAM@|${PROXY_UPSTREAM:-mlflow:5000}|" \
    /etc/ganlab-proxy/nginx.conf.template >/tmp/nginx.conf
exec nginx -c /tmp/nginx.conf -g "daemon off;"
