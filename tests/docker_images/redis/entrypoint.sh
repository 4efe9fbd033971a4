#!/bin/bash
# Stand-in for the official redis image's entrypoint (a test fixture): `redis-server ARGS...`
# (or just `--flag ...`, or a config file) runs as the `redis` user in /data, with protected mode
# off as in the official image.
set -euo pipefail

first=${1:-redis-server}
if [ "${first:0:1}" = "-" ] || [ "${first%.conf}" != "$first" ]; then set -- redis-server "$@"; fi
if [ "${1:-redis-server}" != "redis-server" ]; then exec "$@"; fi
[ $# -gt 0 ] || set -- redis-server
shift
config=()
if [ $# -gt 0 ] && [ "${1%.conf}" != "$1" ]; then config=("$1"); shift; fi

mkdir -p /data
chown redis:redis /data
cd /data
exec setpriv --reuid=redis --regid=redis --init-groups \
    redis-server "${config[@]}" --protected-mode no "$@"
