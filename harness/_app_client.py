"""``app_client``: an httpx client on an ASGI app whose lifespan runs for the client's lifetime."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from ._cleanup import merge_cleanup_errors
from ._exceptions import LifespanError

if TYPE_CHECKING:
    import httpx
    from asgi_lifespan import LifespanManager

__all__ = ["ASGIApp", "app_client"]

_Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[_Message]],
        Callable[[_Message], Awaitable[None]],
    ],
    Awaitable[None],
]
"""Any ASGI application: FastAPI, Starlette, or a bare ``async def app(scope, receive, send)``."""

DEFAULT_LIFESPAN_TIMEOUT = 30.0


@asynccontextmanager
async def app_client(
    app: ASGIApp,
    *,
    base_url: str = "http://test",
    startup_timeout: float = DEFAULT_LIFESPAN_TIMEOUT,
    shutdown_timeout: float = DEFAULT_LIFESPAN_TIMEOUT,
    **client_kwargs: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """Run *app*'s lifespan and give an ``httpx.AsyncClient`` that calls it in-process.

    Startup runs on entry; shutdown runs on exit however the block ends (also after a failing
    test, shielded from cancellation), so background workers and connections the app opens in
    its lifespan never leak into the next test. The state the lifespan yields reaches request
    handlers (``request.state``). Use it in a session-scoped fixture for one app per run, or a
    function-scoped one for a fresh lifespan per test.

    .. code-block:: python

        @pytest.fixture(scope="session")
        async def client() -> AsyncIterator[httpx.AsyncClient]:
            async with app_client(create_app()) as client:
                yield client

    :param app: the ASGI application under test.
    :param base_url: the URL requests are made against; relative URLs resolve to it.
    :param startup_timeout: seconds the lifespan startup may take before it fails with
        :class:`~harness.LifespanError`, instead of hanging the run.
    :param shutdown_timeout: the same bound for the lifespan shutdown.
    :param client_kwargs: passed on to ``httpx.AsyncClient`` (``headers``, ``cookies``,
        ``follow_redirects``...).
    :raises LifespanError: naming the app, when its lifespan startup or shutdown fails or hangs.
    """
    import httpx  # here, not at import: `import harness` stays cheap for runs with no app
    from asgi_lifespan import LifespanManager

    name = _describe(app)
    manager = LifespanManager(
        app, startup_timeout=startup_timeout, shutdown_timeout=shutdown_timeout
    )
    await _start(manager, name, startup_timeout)
    transport = httpx.ASGITransport(app=manager.app)  # manager.app carries the lifespan state
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, **client_kwargs
        ) as client:
            yield client
    except BaseException as exc:
        error = await _stop(manager, name, shutdown_timeout)
        replacement = merge_cleanup_errors(exc, [error] if error else [], f"app_client({name})")
        if replacement is not None:
            raise replacement  # noqa: B904 (chained to exc implicitly; keeps its own cause)
        raise
    error = await _stop(manager, name, shutdown_timeout)
    if error is not None:
        raise error


async def _start(manager: LifespanManager, name: str, timeout: float) -> None:
    started = anyio.current_time()
    try:
        await manager.__aenter__()
    except TimeoutError as exc:
        if anyio.current_time() - started < timeout:
            raise _failed(name, "startup", exc) from exc  # the app's own TimeoutError
        raise LifespanError(
            f"{name} did not finish its lifespan startup within {timeout:g} s. Hint: a startup "
            "step is waiting for something (a server that is not running, a URL from an unset "
            "variable?); raise the bound with app_client(..., startup_timeout=...) if it is "
            "just slow."
        ) from exc
    except Exception as exc:
        raise _failed(name, "startup", exc) from exc


async def _stop(manager: LifespanManager, name: str, timeout: float) -> BaseException | None:
    started = anyio.current_time()
    with anyio.CancelScope(shield=True):
        try:
            await manager.__aexit__(None, None, None)
        except TimeoutError as exc:
            if anyio.current_time() - started < timeout:
                return _chained(_failed(name, "shutdown", exc), exc)
            return _chained(
                LifespanError(
                    f"{name} did not finish its lifespan shutdown within {timeout:g} s; a "
                    "background task or connection it closes is stuck. Raise the bound with "
                    "app_client(..., shutdown_timeout=...) if it is just slow."
                ),
                exc,
            )
        except Exception as exc:
            return _chained(_failed(name, "shutdown", exc), exc)
    return None


def _failed(name: str, phase: str, exc: BaseException) -> LifespanError:
    return LifespanError(
        f"{name} failed during its lifespan {phase}: {type(exc).__name__}: {exc} "
        "(its traceback is above)."
    )


def _chained(error: LifespanError, cause: BaseException) -> LifespanError:
    error.__cause__ = cause
    return error


def _describe(app: object) -> str:
    if inspect.isfunction(app) or inspect.ismethod(app):
        return f"ASGI app {app.__module__}.{app.__qualname__}"
    title = getattr(app, "title", None)
    kind = type(app).__qualname__
    return f"{kind} app {title!r}" if isinstance(title, str) else f"{kind} app"
