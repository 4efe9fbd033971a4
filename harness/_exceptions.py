"""Every error the harness raises, in one place.

Each subclasses the nearest builtin so callers can catch what they already know, and each message
names the problem *and* the fix.
"""

from __future__ import annotations

from typing import Any

from ._redact import scrub

__all__ = [
    "BackendUnavailableError",
    "CleanupTimeoutError",
    "EnvFileError",
    "HarnessError",
    "LeakError",
    "LeakWarning",
    "LifespanError",
    "MessageNotReceivedError",
    "MigrationError",
    "ResourceNotStartedError",
    "ServerDiedError",
    "ServerStartError",
    "StateDirError",
    "TimeLimitExceededError",
    "UnexpectedMessageError",
    "describe",
]


class _Scrubbed:
    """Messages and notes with every password replaced by ``***`` (see :mod:`harness._redact`),
    whatever URL or driver error they quote."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))

    def add_note(self, note: str, /) -> None:
        super().add_note(scrub(note))  # type: ignore[misc]


class HarnessError(_Scrubbed, Exception):
    """Base class of every error the harness raises on purpose."""


class EnvFileError(HarnessError, ValueError):
    """Raised when the `.env.test` file cannot be read or has a malformed line."""


class BackendUnavailableError(HarnessError, RuntimeError):
    """Raised when no backend can provide a resource (no URL, no Docker, no binaries)."""


class ServerStartError(HarnessError, RuntimeError):
    """Raised when a server process or container did not become ready in time."""


class ServerDiedError(HarnessError, RuntimeError):
    """Raised when a server the harness started is no longer running."""


class StateDirError(HarnessError, OSError):
    """Raised when the state dir (run records, server temp dirs) cannot be created or written."""


class MigrationError(HarnessError, RuntimeError):
    """Raised when alembic migrations cannot be applied (two heads, failing revision)."""


class ResourceNotStartedError(HarnessError, RuntimeError):
    """Raised when a harness client is used but its resource was not started for this session."""


class CleanupTimeoutError(HarnessError, TimeoutError):
    """Raised when a seed's cleanup did not finish within its time bound."""


# -- the test-writing API (seeding, clients, messaging, per-test checks) --------------------------


class LifespanError(HarnessError, RuntimeError):
    """Raised when an app's lifespan startup or shutdown fails or does not finish in time."""


class MessageNotReceivedError(HarnessError, AssertionError):
    """Raised when ``inbox.get()`` times out; lists the messages that did arrive instead."""


class UnexpectedMessageError(HarnessError, AssertionError):
    """Raised when ``inbox.expect_none()`` sees a message arrive."""


class TimeLimitExceededError(HarnessError, TimeoutError):
    """Raised when a test runs longer than its per-test time limit."""


class LeakError(HarnessError, AssertionError):
    """Raised after a test that left rows, documents or keys behind in a store."""


class LeakWarning(_Scrubbed, UserWarning):
    """Issued instead of :class:`LeakError` when the leak check mode is ``warn``."""


def describe(error: BaseException) -> str:
    """*error*'s message and its notes (a server's log tail...), for outputs that show no
    traceback (``pytest.exit``, the ``harness`` command); passwords scrubbed."""
    notes = [str(note) for note in getattr(error, "__notes__", ())]
    return scrub("\n".join([str(error), *notes]))
