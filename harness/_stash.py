"""Where the plugin keeps the session in ``config.stash`` (a module of its own: the plugin and
the per-test checks both read it, and neither may import the other)."""

from __future__ import annotations

import pytest

from ._session import HarnessSession

__all__ = ["SESSION_KEY", "session_of"]

SESSION_KEY = pytest.StashKey[HarnessSession]()


def session_of(config: pytest.Config) -> HarnessSession:
    """The harness session of this pytest run."""
    return config.stash[SESSION_KEY]
