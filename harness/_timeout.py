"""The per-test time limit (a pytest plugin module): every anyio test, and the setup and
teardown of its function-scoped async fixtures, run inside a cancel scope with a deadline.

``harness_timeout`` (seconds, 0 = no limit) sets it for the run; ``@pytest.mark.harness_timeout
(seconds)`` for one test (or a module / class, through ``pytestmark``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, TypeVar

import anyio
import pytest

from ._exceptions import TimeLimitExceededError
from ._markers import marker_arg
from ._stash import session_of

__all__ = ["timeout_of", "within"]

T = TypeVar("T")


_LIMIT = pytest.StashKey[float]()


def timeout_of(item: pytest.Item) -> float:
    """The time limit of *item*: its marker's, else the run's (looked up once per test)."""
    limit = item.stash.get(_LIMIT, None)
    if limit is None:
        limit = item.stash[_LIMIT] = _limit_of(item)
    return limit


def _limit_of(item: pytest.Item) -> float:
    value = marker_arg(item, "harness_timeout")
    if value is None:
        return session_of(item.config).config.timeout
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        pytest.fail(
            f"{item.nodeid}: harness_timeout({value!r}) needs a number of seconds (0 for none).",
            pytrace=False,
        )
    return float(value)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A bad ``harness_timeout`` marker fails its test before any fixture (or server) starts."""
    timeout_of(item)


# --------------------------------------------------------------------------------------------
# per-test time limit: the test coroutine runs inside a cancel scope with a deadline
# --------------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    original = pyfuncitem.obj
    limit = timeout_of(pyfuncitem)
    is_anyio = "anyio_backend" in pyfuncitem.funcargs
    if not (is_anyio and limit and inspect.iscoroutinefunction(original)):
        return (yield)

    @functools.wraps(original)
    async def limited(**kwargs: Any) -> None:
        await within(limit, pyfuncitem.name, original(**kwargs))

    pyfuncitem.obj = limited
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Bound the setup and the teardown of a function-scoped async fixture of an anyio test
    by the test's limit, so a hung fixture fails instead of hanging the run. Runs before
    anyio's own hook, which then runs the wrapper on the test's event loop."""
    func = fixturedef.func
    if not (
        fixturedef.scope == "function"
        and (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func))
        and request.instance is None  # methods are bound by pytest and anyio: leave them be
        and "anyio_backend" in request.fixturenames
        and (limit := timeout_of(request.node))
    ):
        return (yield)
    what = f"fixture {fixturedef.argname!r} of {request.node.name}"
    fixturedef.func = _limited_fixture(func, limit, what)  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]


def _limited_fixture(func: Callable[..., Any], limit: float, what: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def limited(**kwargs: Any) -> Any:
            return await within(limit, f"{what} (setup)", func(**kwargs))

        return limited

    @functools.wraps(func)
    async def limited_generator(**kwargs: Any) -> AsyncIterator[Any]:
        steps = func(**kwargs)
        yield await within(limit, f"{what} (setup)", steps.__anext__())
        try:
            await within(limit, f"{what} (teardown)", steps.__anext__())
        except StopAsyncIteration:
            return
        raise RuntimeError(f"{what} yielded more than once; a fixture must `yield` exactly once.")

    return limited_generator


_TIMEOUT_HINT = (
    "Its seeds and clients were cleaned up. Change the limit with "
    "@pytest.mark.harness_timeout(seconds) on the test, or harness_timeout (ini) / "
    "--harness-timeout for the run; 0 means no limit."
)


async def within(limit: float, what: str, step: Awaitable[T]) -> T:
    """Await *step* with a deadline; past it, cancel it and fail saying the limit and the fix."""
    with anyio.CancelScope(deadline=anyio.current_time() + limit) as scope:
        try:
            return await step
        except BaseException as exc:
            if scope.cancel_called and not isinstance(exc, anyio.get_cancelled_exc_class()):
                exc.add_note(f"{what} had exceeded its time limit of {limit:g} s. {_TIMEOUT_HINT}")
            raise
    raise TimeLimitExceededError(
        f"{what} exceeded its time limit of {limit:g} s and was cancelled. {_TIMEOUT_HINT}"
    )
