#!/bin/bash
# Stand-in for the official memcached image's entrypoint (a test fixture): `memcached ARGS...`
# (or just `-flag ...`) runs as the `memcache` user, as the official image runs as its own.
set -euo pipefail

if [ $# -eq 0 ] || [ "${1:0:1}" = "-" ]; then set -- memcached "$@"; fi
if [ "$1" != "memcached" ]; then exec "$@"; fi
shift
exec setpriv --reuid=memcache --regid=memcache --init-groups memcached "$@"
