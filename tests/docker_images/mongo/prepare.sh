#!/bin/bash
# Puts the harness's FerretDB build (a static binary, built once and cached) into the image:
# `python -m harness build-ferretdb` builds it if needed and prints its path last.
set -euo pipefail
overlay=$1
path=$("${PYTHON:-python3}" -m harness build-ferretdb | tail -n 1 | awk '{print $NF}')
[ -x "$path" ] || { echo "prepare mongo: no FerretDB binary at '$path'" >&2; exit 1; }
install -D -m 0755 "$path" "$overlay/usr/local/bin/ferretdb-harness"
