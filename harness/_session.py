"""The harness's state for one test session (or one ``harness up``), in one object.

The pytest plugin keeps the :class:`HarnessSession` in ``config.stash``. Code that has no
``config`` at hand (an accessor such as ``harness.postgres()`` called inside a seed) finds it
through :func:`current`, a context variable the plugin sets when pytest configures: every event
loop and worker thread the session starts inherits it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._exceptions import ResourceNotStartedError

if TYPE_CHECKING:
    from ._config import HarnessConfig
    from ._infra import Infrastructure

__all__ = ["HarnessSession", "activate", "current", "get_client"]


@dataclass
class HarnessSession:
    """One run's configuration, its live clients and what its per-test checks cache."""

    config: HarnessConfig
    infra: Infrastructure | None = None
    """The servers, namespaces and clients, once a test needed them."""
    clients: dict[str, Any] = field(default_factory=dict)
    """The harness's own clients by accessor name (``postgres``, ``rabbitmq_connection``...)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-session memo of the checks and seeds (a table's primary key, a count statement)."""
    lines: list[str] = field(default_factory=list)
    """The startup lines the terminal shows."""
    item: Any = None
    """The test being set up, run or torn down (a ``pytest.Item``)."""
    leak_baseline: dict[tuple[str, str], int] | None = None
    """The leak check's last count, while it still tells what the stores hold (see
    :mod:`harness._leak_check`)."""


_current: ContextVar[HarnessSession | None] = ContextVar("harness_session", default=None)


def current() -> HarnessSession | None:
    """The active session, or ``None`` outside pytest and ``harness up``."""
    return _current.get()


@contextmanager
def activate(session: HarnessSession) -> Iterator[HarnessSession]:
    """Make *session* the active one for the block (``harness up``, a test's own session)."""
    token = _current.set(session)
    try:
        yield session
    finally:
        _current.reset(token)


def set_current(session: HarnessSession | None) -> None:
    """Make *session* the active one from now on (the plugin: from configure to unconfigure)."""
    _current.set(session)


def get_client(name: str, resource: str | None = None) -> Any:
    """The active session's client published as *name* (by the resource *resource*, which
    defaults to *name*).

    :raises ResourceNotStartedError: naming the fixture and the option that start it.
    """
    session = _current.get()
    if session is not None and name in session.clients:
        return session.clients[name]
    resource = resource or name
    raise ResourceNotStartedError(
        f"{name}() was called but this test session has no {resource} client. Request the "
        f"`{resource}` (or `{resource}_url`) fixture from the test or one of its fixtures, or "
        f'start it for every test with `harness_resources = ["{resource}"]` in '
        "[tool.pytest.ini_options], so the harness starts the server before the test runs."
    )
