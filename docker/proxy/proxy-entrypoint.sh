#!/bin/sh
# Start nginx with the listen address and the upstream server from the environment; refuse
# to start without a certificate and its key (the lab provides them: docs/guide.md).
set -eu
for file in server.crt server.key; do
    if [ ! -s "/etc/ganlab-tls/$file" ]; then
        echo "proxy: /etc/ganlab-tls/$file is missing; put the lab's certificate and key in TLS_CERT_DIR (docker/.env)." >&2
        exit 2
    fi
done
sed -e "s|@LISTEN@|${PROXY_LISTEN:-443}|" -e "s|@UPSTREAM@|${PROXY_UPSTREAM:-mlflow:5000}|" \
    /etc/ganlab-proxy/nginx.conf.template >/tmp/nginx.conf
exec nginx -c /tmp/nginx.conf -g "daemon off;"
