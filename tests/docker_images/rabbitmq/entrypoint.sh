#!/bin/bash
# Stand-in for the official rabbitmq image's entrypoint (a test fixture): honours
# RABBITMQ_DEFAULT_USER, RABBITMQ_DEFAULT_PASS, RABBITMQ_DEFAULT_VHOST and RABBITMQ_NODE_PORT, logs
# to the console, and runs the node as the `rabbitmq` user, so `docker exec ... rabbitmqctl` (run
# as root, switched to `rabbitmq` by Debian's wrapper) shares its Erlang cookie.
set -euo pipefail

if [ "${1:-rabbitmq-server}" != "rabbitmq-server" ]; then exec "$@"; fi

{
    echo "loopback_users = none"
    echo "log.console = true"
    echo "log.console.level = info"
    echo "log.file = false"
    if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then echo "default_user = $RABBITMQ_DEFAULT_USER"; fi
    if [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then echo "default_pass = $RABBITMQ_DEFAULT_PASS"; fi
    if [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ]; then echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"; fi
} >/etc/rabbitmq/rabbitmq.conf
echo "[]." >/etc/rabbitmq/enabled_plugins
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
cd /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
    env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
