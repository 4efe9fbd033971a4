"""Reporting a cleanup's errors alongside the block's own error, never instead of it (shared by
``seeded``, ``app_client`` and ``listen``)."""

from __future__ import annotations

import traceback

import anyio

__all__ = ["merge_cleanup_errors"]


def merge_cleanup_errors(
    primary: BaseException | None, errors: list[BaseException], where: str
) -> BaseException | None:
    """Decide what a context manager raises when its cleanup failed.

    Returns the exception to raise instead of *primary*, or ``None`` to let *primary* (or
    nothing) propagate. A failing block keeps its own exception, with each cleanup error added
    as a note, so ``pytest.raises`` and assertion introspection still see the test's error.
    A cancellation is absorbed by the scope that caused it, so the cleanup errors are raised
    instead: they must not vanish with it.
    """
    if not errors:
        return None
    cleanup = (
        errors[0]
        if len(errors) == 1
        else BaseExceptionGroup(f"{len(errors)} cleanups failed in {where}", errors)
    )
    if primary is None or isinstance(primary, anyio.get_cancelled_exc_class()):
        return cleanup
    for error in errors:
        text = "".join(traceback.format_exception(error)).rstrip()
        primary.add_note(f"While cleaning up after this error, {where} also failed:\n{text}")
    return None
