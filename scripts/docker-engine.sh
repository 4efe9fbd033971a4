#!/usr/bin/env bash
# A private Docker engine for the harness's Docker lane: `start`, `stop` or `status` (as root).
#
# `start` installs Debian's docker.io if dockerd is missing (without starting the system service),
# then runs dockerd on its own socket, data root and exec root, so it never touches a system
# Docker. --iptables=false --ip-forward=false --ip-masq=false keep containers from reaching beyond
# this machine; ports published on 127.0.0.1 still work (docker-proxy). It prints the DOCKER_HOST
# to use on stdout (everything else goes to stderr):
#
#     export DOCKER_HOST=$(scripts/docker-engine.sh start)
#
# A second `start` while the engine runs only prints it again. `stop` stops dockerd by the PID in
# its pidfile (and the containerd it started), with a bounded wait.
set -euo pipefail

STATE=${HARNESS_DOCKER_STATE:-/var/lib/harness-docker}   # images, containers, the log
RUNDIR=${HARNESS_DOCKER_RUN:-/run/harness-docker}        # socket, pidfile, exec root (short paths)
SOCK=$RUNDIR/docker.sock
PIDFILE=$RUNDIR/dockerd.pid
EXEC_ROOT=$RUNDIR/exec
LOG=$STATE/dockerd.log
START_TIMEOUT=${HARNESS_DOCKER_START_TIMEOUT:-60}
STOP_TIMEOUT=${HARNESS_DOCKER_STOP_TIMEOUT:-30}
DOCKER_HOST_URL=unix://$SOCK

say() { printf 'docker-engine: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

show_log() {
    if [ -f "$LOG" ]; then
        say "last lines of $LOG:"
        tail -n 25 "$LOG" >&2
    fi
}

# The PID in the pidfile, if that process is still our dockerd (not a reused PID).
engine_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "dockerd .*--pidfile $PIDFILE" || return 1
    echo "$pid"
}

answers() {
    timeout 5 docker -H "$DOCKER_HOST_URL" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_engine() {
    command -v dockerd >/dev/null && command -v docker >/dev/null && return 0
    command -v apt-get >/dev/null || fail "dockerd is missing and there is no apt-get: install Docker Engine"
    say "installing Debian's docker.io (the system service is not started)"
    local created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # exit 101 = "do not start services" while the package installs.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
    command -v dockerd >/dev/null || fail "docker.io installed but dockerd is not on PATH"
}

start() {
    if pid=$(engine_pid) && answers; then
        say "already running (PID $pid)"
        echo "$DOCKER_HOST_URL"
        return 0
    fi
    install_engine
    if pid=$(engine_pid); then
        say "dockerd (PID $pid) runs but does not answer: stopping it first"
        stop
    fi
    rm -f "$PIDFILE"
    mkdir -p "$STATE/data" "$EXEC_ROOT"
    chmod 0711 "$STATE" "$RUNDIR"
    say "starting dockerd (log: $LOG)"
    # setsid: the engine outlives this script and is not hit by a Ctrl-C meant for the caller.
    setsid dockerd \
        --iptables=false --ip-forward=false --ip-masq=false \
        --data-root "$STATE/data" --exec-root "$EXEC_ROOT" \
        -H "$DOCKER_HOST_URL" --pidfile "$PIDFILE" \
        </dev/null >>"$LOG" 2>&1 &
    local launched=$! waited=0
    until answers; do
        if ! kill -0 "$launched" 2>/dev/null; then
            show_log
            fail "dockerd exited during startup (see above)"
        fi
        if [ "$waited" -ge $((START_TIMEOUT * 4)) ]; then
            show_log
            kill -TERM "$launched" 2>/dev/null || true
            fail "dockerd did not answer within ${START_TIMEOUT} s (raise HARNESS_DOCKER_START_TIMEOUT?)"
        fi
        sleep 0.25
        waited=$((waited + 1))
    done
    say "running (PID $(engine_pid || echo "$launched"), Docker $(docker -H "$DOCKER_HOST_URL" version --format '{{.Server.Version}}'))"
    echo "$DOCKER_HOST_URL"
}

wait_gone() {  # PID, seconds: 0 once the process is gone, 1 if it is still there
    local pid=$1 ticks=$(($2 * 4))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$ticks" -le 0 ] && return 1
        sleep 0.25
        ticks=$((ticks - 1))
    done
}

stop() {
    local pid containerd_pid=""
    if ! pid=$(engine_pid); then
        say "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    # The containerd dockerd started for itself: stopped with it, or by us if dockerd is killed.
    if [ -f "$EXEC_ROOT/containerd/containerd.pid" ]; then
        containerd_pid=$(cat "$EXEC_ROOT/containerd/containerd.pid" 2>/dev/null || true)
    fi
    say "stopping dockerd (PID $pid)"
    kill -TERM "$pid"
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        say "dockerd still runs after ${STOP_TIMEOUT} s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || fail "dockerd (PID $pid) survived SIGKILL"
    fi
    if [ -n "$containerd_pid" ] && kill -0 "$containerd_pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$containerd_pid/cmdline" | grep -q -- "$EXEC_ROOT"; then
        kill -TERM "$containerd_pid" 2>/dev/null || true
        wait_gone "$containerd_pid" 10 || kill -KILL "$containerd_pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    say "stopped"
}

status() {
    local pid
    if pid=$(engine_pid) && answers; then
        say "running (PID $pid)"
        echo "$DOCKER_HOST_URL"
        return 0
    fi
    say "stopped"
    return 3
}

[ "$(id -u)" -eq 0 ] || fail "run as root (dockerd needs it): sudo $0 ${1:-start}"
case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) fail "usage: $0 start|stop|status" ;;
esac
