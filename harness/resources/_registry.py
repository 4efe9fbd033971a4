"""The registry of resource kinds: what the plugin makes fixtures for and the CLI knows."""

from __future__ import annotations

import re

from ._base import Resource

__all__ = ["REGISTRY", "register", "unregister"]

REGISTRY: dict[str, Resource] = {}
"""Registered kinds by name, in start order (the slowest to start first)."""

_NAME = re.compile(r"[a-z][a-z0-9]*\Z")


def register(resource: Resource) -> Resource:
    """Make *resource* known to the plugin (its fixtures), the CLI and the env mapping.

    Call it at import time of a root ``conftest.py`` or a plugin: the plugin makes the
    fixtures when pytest configures. The ``harness`` command (``doctor``, ``up``, ``down``,
    ``reap``) imports the root ``conftest.py`` as well, so a kind registered there (or in a
    module it imports) is known to it too. Registering a name again replaces the earlier kind.

    :raises ValueError: for a name that is not lowercase letters and digits (it becomes fixture
        names and ``HARNESS_<NAME>_URL``), or a class without ``name``/``title``/``url_scheme``.
    """
    missing = [a for a in ("name", "title", "url_scheme") if not hasattr(type(resource), a)]
    if missing:
        raise ValueError(
            f"{type(resource).__qualname__} does not set {', '.join(missing)}: a Resource "
            "subclass sets them as class attributes."
        )
    if not _NAME.match(resource.name):
        raise ValueError(
            f"resource name {resource.name!r} must be lowercase letters and digits, starting "
            "with a letter: it names fixtures and the HARNESS_<NAME>_URL variable."
        )
    REGISTRY[resource.name] = resource
    return resource


def unregister(name: str) -> None:
    """Forget the kind *name* (a project that does not want one of the built-in four)."""
    REGISTRY.pop(name, None)
