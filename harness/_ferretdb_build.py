"""Build and cache the FerretDB v1 server the local backend uses when no `mongod` is installed.

``go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`` builds a binary that panics at
start (the module ships an empty ``build/version/version.txt``). A tiny main module of our own
(``harness/_ferretdb``) embeds the public ``ferretdb`` package instead, which skips that check.
The binary is cached under a name derived from its source, so a second setup run builds nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ._exceptions import BackendUnavailableError

__all__ = ["build_ferretdb", "cache_dir", "ferretdb_binary"]

SOURCE = Path(__file__).with_name("_ferretdb")
BINARY_NAME = "ferretdb-harness"


def cache_dir() -> Path:
    """``$HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    explicit = os.environ.get("HARNESS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def _source_hash() -> str:
    digest = hashlib.sha256()
    for name in ("main.go", "go.mod", "go.sum"):
        digest.update((SOURCE / name).read_bytes())
    return digest.hexdigest()[:12]


def ferretdb_binary() -> Path | None:
    """The FerretDB server to run: ``ferretdb-harness`` on PATH, else the cached build, else None."""
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    cached = cache_dir() / f"{BINARY_NAME}-{_source_hash()}"
    return cached if cached.is_file() else None


def build_ferretdb(*, force: bool = False) -> tuple[Path, bool]:
    """Build the binary into the cache unless it is there; return its path and whether it was built.

    :raises BackendUnavailableError: when Go is missing or the build fails.
    """
    target = cache_dir() / f"{BINARY_NAME}-{_source_hash()}"
    if target.is_file() and not force:
        return target, False
    go = shutil.which("go")
    if go is None:
        raise BackendUnavailableError(
            "building FerretDB needs Go (https://go.dev/dl/, or apt-get install golang-go); "
            "alternatively put a `mongod` on PATH or set HARNESS_MONGO_URL."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    result = subprocess.run(
        [go, "build", "-trimpath", "-o", str(partial), "."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
        env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
        timeout=900,
    )
    if result.returncode != 0:
        raise BackendUnavailableError(f"go build of FerretDB failed:\n{result.stderr.strip()}")
    partial.replace(target)
    return target, True
