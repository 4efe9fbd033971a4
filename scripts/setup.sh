#!/usr/bin/env bash
# One idempotent setup: Python dependencies, then (unless a Docker daemon answers) the local
# server binaries: PostgreSQL, Redis, RabbitMQ and Memcached (the kind of server
# tests/memcached_project adds from outside the harness) from apt (Debian, Ubuntu) or Homebrew
# (macOS), and FerretDB (built once with Go, cached). A second run checks and skips everything:
# it takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
say() { printf 'setup: %s\n' "$*"; }

# -- Python dependencies ------------------------------------------------------------------------
stamp_dir=$("$PYTHON" -c 'import sys, sysconfig; print(sysconfig.get_paths()["purelib"])')
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
stamp="$stamp_dir/.harness-setup-$(sha256 pyproject.toml | cut -c1-16)"
# Installed, for this pyproject.toml, *from this checkout*: an editable install of another clone
# would test that tree's code. Asked from / so the checkout itself is not on sys.path.
repo=$(pwd)
installed_here() {
    (cd / && "$PYTHON" -c 'import pathlib, sys, harness.plugin, xdist, mkdocs
sys.exit(0 if pathlib.Path(harness.plugin.__file__).resolve().is_relative_to(sys.argv[1]) else 1)' "$repo") 2>/dev/null
}
if [ -f "$stamp" ] && installed_here; then
    say "python dependencies up to date"
else
    # Dependency groups (PEP 735: the services' and dev tools' needs) need pip 25.1 or later.
    if ! "$PYTHON" -m pip install --help 2>/dev/null | grep -q -- '--group'; then
        say "upgrading pip (dependency groups need pip >= 25.1)"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'pip>=25.1'
    fi
    say "installing python dependencies (pip install -e . --group dev)"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e . --group dev
    rm -f "$stamp_dir"/.harness-setup-* && touch "$stamp"
fi

# -- Servers: Docker if it answers, else local binaries --------------------------------------------
if [ "${HARNESS_SETUP_SKIP_SERVERS:-}" = "1" ]; then
    say "HARNESS_SETUP_SKIP_SERVERS=1: not installing server binaries"; exit 0
fi
if "$PYTHON" -c 'from harness.backends import docker_status; import sys; sys.exit(0 if docker_status()[0] else 1)' 2>/dev/null \
    && [ "${HARNESS_SETUP_LOCAL:-}" != "1" ]; then
    say "a Docker daemon answers: tests will use containers (set HARNESS_SETUP_LOCAL=1 to install local binaries too)"
    exit 0
fi

# The package that installs a kind of server (bash 3.2, macOS's, has no associative arrays).
package() {
    case "$1:$2" in
        apt:postgres) echo postgresql ;;  apt:redis) echo redis-server ;;
        apt:rabbitmq) echo rabbitmq-server ;;  brew:postgres) echo postgresql@17 ;;
        *) echo "$2" ;;
    esac
}
# Which servers lack binaries, asked of the harness itself: it knows where each package manager
# puts them (Debian's /usr/lib/postgresql/<v>/bin, Homebrew's keg-only formulae...).
read -r -a missing <<<"$("$PYTHON" - <<'PY'
import shutil
from harness.resources import REGISTRY
packages = {"postgres": "postgres", "redis": "redis", "rabbitmq": "rabbitmq"}
missing = [kind for name, kind in packages.items() if REGISTRY[name].find_binaries() is None]
if shutil.which("memcached") is None:
    missing.append("memcached")
print(" ".join(missing))
PY
)"
if [ ${#missing[@]} -eq 0 ]; then
    say "PostgreSQL, Redis, RabbitMQ, Memcached already installed"
elif command -v apt-get >/dev/null; then
    packages=()
    for kind in "${missing[@]}"; do packages+=("$(package apt "$kind")"); done
    say "installing ${packages[*]} with apt (system services are not started: the harness runs its own)"
    # policy-rc.d exit 101 = "do not start services" for the duration of the install.
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d; created_policy=1
    fi
    trap '[ -n "$created_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
    [ -n "$SUDO" ] && apt=("$SUDO" "${apt[@]}")
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
elif command -v brew >/dev/null; then
    formulae=()
    for kind in "${missing[@]}"; do formulae+=("$(package brew "$kind")"); done
    say "installing ${formulae[*]} with Homebrew (not started as services: the harness runs its own)"
    brew install --quiet "${formulae[@]}"
else
    say "missing ${missing[*]}, and neither apt-get nor brew is here: install them with your package manager, start Docker, or export their HARNESS_<NAME>_URL"
    exit 1
fi

# -- MongoDB: a real mongod if present, else FerretDB built once --------------------------------------
if command -v mongod >/dev/null; then
    say "mongod found: FerretDB not needed"
else
    "$PYTHON" -m harness build-ferretdb
fi
say "done. Run the tests with: pytest"
