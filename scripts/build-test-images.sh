#!/usr/bin/env bash
# Build the stand-in images of the Docker lane (test fixtures, see tests/docker_images/README.md):
#
#     DOCKER_HOST=... scripts/build-test-images.sh [postgres rabbitmq mongo redis memcached]
#
# Each image is `harness-test/<resource>:stand-in`, also tagged with the hash of its recipe: an
# unchanged recipe is not rebuilt. The debootstrap output is cached as a tarball under
# ~/.cache/harness/images (keyed by its packages), so a fresh Docker data root re-imports in
# seconds. Runs as root (debootstrap); installs debootstrap with apt if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RECIPES=tests/docker_images
SUITE=bookworm
CACHE=${HARNESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/harness}/images
BUILDER_VERSION=1  # bump when the way images are assembled changes
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PYTHON=${PYTHON:-python3}

say() { printf 'build-test-images: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

# The mirror apt uses here (deb822 or one-line sources), else Debian's.
mirror() {
    local found
    found=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1 || true)
    [ -n "$found" ] || found=$(grep -h -m1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
    echo "${found:-http://deb.debian.org/debian}"
}
MIRROR=${HARNESS_DEBIAN_MIRROR:-$(mirror)}

need_tools() {
    [ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap needs it)"
    command -v docker >/dev/null || fail "no docker CLI: run scripts/docker-engine.sh start first"
    docker version >/dev/null 2>&1 || fail "no Docker daemon answers (DOCKER_HOST=${DOCKER_HOST:-unset}): export DOCKER_HOST=\$(scripts/docker-engine.sh start)"
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
}

hash_of() { sha256sum | cut -c1-12; }

# Unmount whatever debootstrap left mounted under $1, then delete it without leaving its filesystem.
remove_tree() {
    local dir=$1 target
    [ -d "$dir" ] || return 0
    for target in $(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r); do
        umount -l "$target" 2>/dev/null || true
    done
    rm -rf --one-file-system "$dir"
}

# The cleaned root filesystem of a recipe, as a cached tarball; prints its path.
rootfs() {
    local name=$1 key tarball work
    # shellcheck disable=SC1090
    source "$RECIPES/$name/recipe"
    key=$(printf '%s\n' "$BUILDER_VERSION" "$SUITE" "$MIRROR" "$packages" "$rootfs_cleanup" | hash_of)
    tarball=$CACHE/rootfs-$name-$key.tar
    if [ -f "$tarball" ]; then
        echo "$tarball"
        return 0
    fi
    work=$(mktemp -d "$WORK/rootfs-$name.XXXXXX")
    say "$name: debootstrap --variant=minbase ${packages:+--include=${packages// /,} }$SUITE ($MIRROR)"
    local include=()
    [ -n "$packages" ] && include=("--include=${packages// /,}")
    if ! debootstrap --variant=minbase "${include[@]}" "$SUITE" "$work/root" "$MIRROR" >"$work.log" 2>&1; then
        tail -n 20 "$work.log" >&2
        [ -f "$work/root/debootstrap/debootstrap.log" ] && tail -n 20 "$work/root/debootstrap/debootstrap.log" >&2
        fail "$name: debootstrap failed (log above)"
    fi
    rm -f "$work.log"
    (
        cd "$work/root"
        rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* \
            usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian \
            var/cache/debconf/*-old var/log/*.log var/log/apt/* tmp/* etc/hostname etc/resolv.conf
        # shellcheck disable=SC2086
        [ -z "$rootfs_cleanup" ] || rm -rf $rootfs_cleanup
    )
    tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$tarball"
    find "$CACHE" -maxdepth 1 -name "rootfs-$name-*.tar" ! -path "$tarball" -delete  # superseded
    remove_tree "$work"
    say "$name: root filesystem cached ($(du -h "$tarball" | cut -f1)): $tarball"
    echo "$tarball"
}

# Remove the images of superseded recipes (their tags are other hashes).
prune() {
    local image=$1 key=$2 tag
    for tag in $(docker images "$image" --format '{{.Tag}}'); do
        if [ "$tag" != "$key" ] && [ "$tag" != "stand-in" ]; then
            docker rmi "$image:$tag" >/dev/null || true
        fi
    done
}

build() {
    local name=$1 dir=$RECIPES/$1 overlay key image tarball
    [ -f "$dir/recipe" ] || fail "no recipe $dir/recipe"
    # shellcheck disable=SC1090
    source "$dir/recipe"
    overlay=$(mktemp -d "$WORK/overlay-$name.XXXXXX")
    install -D -m 0755 "$dir/entrypoint.sh" "$overlay/usr/local/bin/docker-entrypoint.sh"
    [ -x "$dir/prepare.sh" ] && "$dir/prepare.sh" "$overlay"
    key=$( (
        printf '%s\n' "$BUILDER_VERSION" "$SUITE" "$MIRROR"
        cat "$dir/recipe"
        cd "$overlay" && find . -type f | sort | xargs sha256sum
    ) | hash_of)
    image=harness-test/$name
    if docker image inspect "$image:$key" >/dev/null 2>&1; then
        docker tag "$image:$key" "$image:stand-in"
        say "$name: $image:stand-in is up to date ($key)"
        return 0
    fi
    tarball=$(rootfs "$name")
    say "$name: importing $image:$key"
    local assembled changes=()
    assembled=$(mktemp "$WORK/assembled-$name.XXXXXX")
    cp "$tarball" "$assembled"
    (cd "$overlay" && find . -type f) | tar -C "$overlay" --numeric-owner --no-recursion -rf "$assembled" -T -
    changes=(-c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' -c "CMD $cmd" -c "ENV $PATH_ENV")
    [ -n "$env" ] && changes+=(-c "ENV $env")
    [ -n "$expose" ] && changes+=(-c "EXPOSE $expose")
    docker import "${changes[@]}" "$assembled" "$image:$key" >/dev/null
    rm -f "$assembled"
    docker tag "$image:$key" "$image:stand-in"
    prune "$image" "$key"
    say "$name: built $image:stand-in ($key, $(docker image inspect -f '{{.Size}}' "$image:$key" | numfmt --to=iec))"
}

need_tools
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
trap 'remove_tree "$WORK"' EXIT
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(postgres rabbitmq mongo redis memcached)
# Build in parallel (debootstrap mostly waits on the mirror); each writes its own log.
logs=$(mktemp -d)
pids=()
for name in "${names[@]}"; do
    build "$name" >"$logs/$name.out" 2>"$logs/$name.err" &
    pids+=($!)
done
failed=()
for i in "${!names[@]}"; do
    if ! wait "${pids[$i]}"; then failed+=("${names[$i]}"); fi
    cat "$logs/${names[$i]}.err" >&2
done
rm -rf "$logs"
[ ${#failed[@]} -eq 0 ] || fail "failed: ${failed[*]}"
for name in "${names[@]}"; do echo "harness-test/$name:stand-in"; done
