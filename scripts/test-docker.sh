#!/usr/bin/env bash
# The Docker lane: the whole suite on --harness-backend=docker, against the stand-in images
# (tests/docker_images), on a private Docker engine (scripts/docker-engine.sh).
#
#     scripts/test-docker.sh [pytest args...]      (make test-docker: with -n 2)
#
# Starts the engine (stopped again at the end unless it was already running), builds the images
# (cached: seconds when their recipes are unchanged), then runs pytest. Tests that only make sense
# on another backend carry @pytest.mark.backend(...) and are deselected here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo --preserve-env=PYTHON,HARNESS_CACHE_DIR"; fi
say() { printf 'test-docker: %s\n' "$*" >&2; }

if $SUDO scripts/docker-engine.sh status >/dev/null 2>&1; then
    say "the Docker engine already runs: it is left running afterwards"
else
    trap '$SUDO scripts/docker-engine.sh stop' EXIT
fi
DOCKER_HOST=$($SUDO scripts/docker-engine.sh start)
export DOCKER_HOST
$SUDO env DOCKER_HOST="$DOCKER_HOST" PYTHON="$PYTHON" scripts/build-test-images.sh >/dev/null

flags=()
images=()
for resource in postgres rabbitmq mongo redis; do
    flags+=(--harness-images "$resource=harness-test/$resource:stand-in")
    images+=("$resource=harness-test/$resource:stand-in")
done
# The same choice as environment variables, for the inner pytests some tests run.
HARNESS_BACKEND=docker HARNESS_IMAGES=$(IFS=,; echo "${images[*]}")
# memcached: the kind a test project registers in its own conftest (tests/memcached_project),
# unknown here, where harness_images would refuse it: its own variable, read when it starts.
HARNESS_MEMCACHED_IMAGE=harness-test/memcached:stand-in
export HARNESS_BACKEND HARNESS_IMAGES HARNESS_MEMCACHED_IMAGE
set +e
"$PYTHON" -m pytest --harness-backend=docker "${flags[@]}" "$@"
status=$?
set -e
exit "$status"
