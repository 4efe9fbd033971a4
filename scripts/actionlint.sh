#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint, which also runs ShellCheck on the shell of
# their `run:` blocks. Installs both once: actionlint with `go install` into the harness cache
# (~/.cache/harness/bin, or $HARNESS_CACHE_DIR/bin), ShellCheck from Debian. A second run finds
# them and only lints (well under a second).
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=v1.7.12
cache_dir=${HARNESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/harness}
actionlint="$cache_dir/bin/actionlint-$ACTIONLINT_VERSION"
say() { printf 'actionlint.sh: %s\n' "$*" >&2; }

if [ ! -x "$actionlint" ]; then
    if ! command -v go >/dev/null; then
        say "installing actionlint needs Go (https://go.dev/dl/, or apt-get install golang-go)"
        exit 1
    fi
    say "installing actionlint $ACTIONLINT_VERSION with go install (once)"
    gobin=$(mktemp -d)
    trap 'rm -rf "$gobin"' EXIT
    GOBIN="$gobin" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
    mkdir -p "$(dirname "$actionlint")"
    mv "$gobin/actionlint" "$actionlint"
fi

if ! command -v shellcheck >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    say "installing shellcheck from Debian (once): actionlint runs it on every run: block"
    apt=(apt-get -qq -o DPkg::Lock::Timeout=300)  # wait for another apt run, do not fail
    $sudo "${apt[@]}" update
    $sudo env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends shellcheck >/dev/null
fi

# -shellcheck with the full path: without it actionlint skips the check silently when it
# cannot find shellcheck.
"$actionlint" -shellcheck "$(command -v shellcheck)" "$@"
