"""One readiness helper for every server: bounded polling with a real client round trip."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio

from ._exceptions import BackendUnavailableError, ServerStartError
from ._process import ProcessRecord

__all__ = ["log_tail", "wait_ready"]

T = TypeVar("T")


async def wait_ready(
    probe: Callable[[], Awaitable[T]],
    *,
    what: str,
    timeout: float,
    hint: str,
    process: ProcessRecord | None = None,
    log_path: Path | None = None,
) -> T:
    """Call *probe* until it returns, at most *timeout* seconds; return its result.

    Fails at once if *process* exits, and otherwise with the attempt count, the last error, a
    ``Hint:`` line and the tail of the server's log.

    :raises ServerStartError: when the server exits or does not answer in time.
    :raises BackendUnavailableError: at once, when the probe raises it (its client library is
        not installed): no server would ever answer it.
    """
    started = time.monotonic()
    attempts = 0
    delay = 0.02
    last: BaseException | None = None
    while (remaining := timeout - (time.monotonic() - started)) > 0:
        if process is not None and not process.alive():
            raise _failure(f"{what} exited during startup", hint, log_path, last)
        attempts += 1
        try:
            with anyio.fail_after(min(max(remaining, 0.1), 5.0)):
                return await probe()
        except BackendUnavailableError:
            raise  # the probe's client library is missing: waiting cannot help
        except Exception as exc:  # any other failure to answer means "not ready yet"
            last = exc
        await anyio.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    tries = f"{attempts} attempt{'s' * (attempts != 1)}"
    raise _failure(f"{what} did not answer within {timeout:g} s ({tries})", hint, log_path, last)


def _failure(
    summary: str, hint: str, log_path: Path | None, last: BaseException | None
) -> ServerStartError:
    """The error, with the server's log copied in: a failed start removes its temp dir."""
    detail = ""
    if last is not None:
        said = str(last).rstrip(".")
        detail = f": last error {type(last).__name__}" + (f": {said}" if said else "")
    error = ServerStartError(f"{summary}{detail}.\nHint: {hint}")
    if log_path is not None:
        tail = log_tail(log_path)
        error.add_note(
            f"Last lines of the server's log:\n{tail}" if tail else "The server's log is empty."
        )
    return error


def log_tail(path: Path | None, lines: int = 20) -> str:
    """The last *lines* of a log file, or ``""`` when there is none."""
    if path is None or not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
