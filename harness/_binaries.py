"""Finding server binaries where package managers put them, on Linux and macOS.

Debian and Ubuntu keep PostgreSQL's server binaries off PATH (``/usr/lib/postgresql/<v>/bin``)
and RabbitMQ's runnable scripts in ``/usr/lib/rabbitmq/bin``; Homebrew keeps versioned formulae
under ``<prefix>/opt/<formula>/bin`` (``/opt/homebrew`` on Apple silicon, ``/usr/local`` on Intel).
"""

from __future__ import annotations

import glob
import shutil
import sys
from collections.abc import Sequence

__all__ = ["HOMEBREW", "install_hint", "search_dirs", "which_all"]

HOMEBREW = ("/opt/homebrew", "/usr/local")
"""Homebrew's prefixes: Apple silicon, then Intel."""


def search_dirs(*patterns: str) -> list[str | None]:
    """PATH (``None``) first, then the directories matching each glob pattern, newest version
    first (``/usr/lib/postgresql/17/bin`` before ``.../15/bin``)."""
    found: list[str | None] = [None]
    for pattern in patterns:
        found += sorted(glob.glob(pattern), reverse=True)
    return found


def which_all(names: Sequence[str], dirs: Sequence[str | None]) -> dict[str, str] | None:
    """Paths of all *names* from the first directory of *dirs* that has them all (``None``:
    PATH), so the binaries of one version are used together; ``None`` if none has them all."""
    for directory in dirs:
        found = {name: shutil.which(name, path=directory) for name in names}
        if all(found.values()):
            return {name: path for name, path in found.items() if path}
    return None


def install_hint(*, apt: str, brew: str, url_env: str) -> str:
    """The command that installs a server here: Homebrew's on macOS, apt's elsewhere."""
    command = brew if sys.platform == "darwin" else apt
    return f"{command}  (or set {url_env})"
