#!/bin/bash
# Stand-in for the official postgres image's entrypoint (a test fixture): honours POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB on first start, scram-sha-256 for every TCP client, listens on
# '*', and takes `postgres -c key=value ...` (or just `-c ...`) as the command.
set -euo pipefail

first=${1:-postgres}
if [ "${first:0:1}" = "-" ]; then set -- postgres "$@"; fi
if [ "${1:-postgres}" != "postgres" ]; then exec "$@"; fi
[ $# -gt 0 ] || set -- postgres
shift

bin=$(echo /usr/lib/postgresql/*/bin)
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "stand-in postgres: POSTGRES_PASSWORD must be set (as with the official image)" >&2
    exit 1
fi

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    if [ "$db" != "postgres" ]; then
        echo "CREATE DATABASE \"${db//\"/\"\"}\";" \
            | runuser -u postgres -- "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "stand-in postgres: database cluster initialised for user $user"
fi
exec runuser -u postgres -- "$bin/postgres" -D "$PGDATA" \
    -c unix_socket_directories=/var/run/postgresql "$@"
