#!/bin/sh
# Run once, when the database is first made (the postgres image runs the scripts of
# /docker-entrypoint-initdb.d; compose-check's image does the same): the role MLflow
# connects as. It owns the database MLflow keeps its runs and accounts in and nothing
# else: no superuser, no other databases, no roles (POSTGRES_USER stays the admin).
# psql's :'...' quoting carries any character of the password safely.
set -eu
: "${MLFLOW_DB_USER:?set MLFLOW_DB_USER (docker/.env)}"
: "${MLFLOW_DB_PASSWORD:?set MLFLOW_DB_PASSWORD (docker/.env)}"
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
    -v role="$MLFLOW_DB_USER" -v password="$MLFLOW_DB_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER DATABASE :"db" OWNER TO :"role";
ALTER SCHEMA public OWNER TO :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
