"""``eventually``: retry an assertion until the system under test has caught up."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

import anyio

__all__ = ["eventually"]

T = TypeVar("T")


_Retry = type[BaseException] | tuple[type[BaseException], ...]


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 5.0,
    interval: float = 0.05,
    retry_on: _Retry = AssertionError,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    timeout: float = 5.0,
    interval: float = 0.05,
    retry_on: _Retry = AssertionError,
) -> T: ...


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 5.0,
    interval: float = 0.05,
    retry_on: _Retry = AssertionError,
) -> T:
    """Call *check* until it passes, then return what it returned.

    For effects that happen after the action returns (a consumer writing to Mongo, a cache
    being filled), a fixed ``sleep`` is either flaky or slow; this polls instead.

    *check* passes when it raises nothing and returns either ``None`` (an assertion-style
    check) or a truthy value (a predicate). A falsy non-``None`` value, or an exception of
    *retry_on*, means "not yet". Any other exception propagates at once.

    .. code-block:: python

        async def location_stored() -> None:
            assert await mongo().locations.count_documents({"courier_id": cid}) == 1

        await eventually(location_stored, timeout=5)

    :param check: a sync or async callable taking no arguments.
    :param timeout: seconds to keep trying; the last failure is then raised with a note saying
        how long and how many tries it took. A call still running at the deadline is cancelled.
    :param interval: seconds between tries, so a poll does not hammer the store.
    :param retry_on: exception types that mean "not yet" (``AssertionError`` by default; add
        e.g. ``httpx.ConnectError`` while a server starts).
    :raises AssertionError: the last failure (or one describing the last falsy result).
    """
    started = anyio.current_time()
    deadline = started + timeout
    tries = 0
    last_error: BaseException | None = None
    while True:
        tries += 1
        with anyio.move_on_after(max(deadline - anyio.current_time(), 0)) as scope:
            try:
                value = await _call(check)
            except retry_on as exc:
                last_error = exc
            else:
                if value is None or value:
                    return value
                last_error = AssertionError(f"{_name(check)} returned {value!r}")
        if scope.cancelled_caught:
            last_error = _hung_error(check, last_error)
        now = anyio.current_time()
        if now >= deadline:
            raise _give_up(last_error, now - started, tries)
        await anyio.sleep(min(interval, deadline - now))


async def _call(check: Callable[[], T | Awaitable[T]]) -> T:
    result = check()
    if inspect.isawaitable(result):
        return await cast(Awaitable[T], result)
    return result


def _name(check: Callable[..., object]) -> str:
    return getattr(check, "__qualname__", None) or repr(check)


def _hung_error(check: Callable[..., object], previous: BaseException | None) -> AssertionError:
    error = AssertionError(f"{_name(check)} was still running at the deadline and was cancelled")
    error.__context__ = previous
    return error


def _give_up(error: BaseException | None, elapsed: float, tries: int) -> BaseException:
    assert error is not None
    plural = "try" if tries == 1 else "tries"
    error.add_note(f"eventually(): still failing after {elapsed:.2f} s and {tries} {plural}.")
    return error
