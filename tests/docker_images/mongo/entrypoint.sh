#!/bin/bash
# Stand-in for the official mongo image (a test fixture): FerretDB v1 on SQLite, the harness's own
# build. It logs "Waiting for connections" once the port answers, as mongod does (testcontainers'
# MongoDbContainer waits for that line).
#
# MONGO_INITDB_ROOT_USERNAME/_PASSWORD are accepted but cannot be enforced: FerretDB v1's SQLite
# backend offers only the PLAIN mechanism and checks no credentials. Drivers must be told to use
# PLAIN (the harness asks the server which mechanisms it offers and does so).
set -euo pipefail

if [ "${1:-}" = "mongod" ]; then shift; fi
if [ $# -gt 0 ] && [ "${1:0:1}" != "-" ]; then exec "$@"; fi

port=27017
mkdir -p /data/db
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
    echo "stand-in mongo: FerretDB v1 (SQLite) accepts any credentials over PLAIN; MONGO_INITDB_ROOT_USERNAME is not enforced"
fi
/usr/local/bin/ferretdb-harness -listen-addr ":$port" -sqlite-dir /data/db &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT

for _ in $(seq 1 400); do  # at most ~20 s
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "{\"msg\":\"Waiting for connections\",\"attr\":{\"port\":$port,\"ssl\":\"off\"}}"
        break
    fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
done
status=0
wait "$server" || status=$?
# A TERM interrupts the first wait: wait again for the server's own exit status.
if kill -0 "$server" 2>/dev/null; then wait "$server" || status=$?; fi
exit "$status"
