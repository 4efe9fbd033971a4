"""``app_client``: lifespan in session and function scope, state reaching handlers, clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request

from harness import app_client
from harness._exceptions import LifespanError

pytestmark = pytest.mark.anyio


@dataclass
class Journal:
    """What the app's lifespan did, readable from the test."""

    events: list[str] = field(default_factory=list)


def make_app(
    journal: Journal,
    *,
    on_startup: Callable[[], object] | None = None,
    on_shutdown: Callable[[], object] | None = None,
    title: str = "Demo service",
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        journal.events.append("startup")
        if on_startup is not None:
            await _maybe_await(on_startup())
        yield {"greeting": f"hello from lifespan #{journal.events.count('startup')}"}
        journal.events.append("shutdown")
        if on_shutdown is not None:
            await _maybe_await(on_shutdown())

    app = FastAPI(title=title, lifespan=lifespan)

    @app.get("/greeting")
    async def greeting(request: Request) -> dict[str, str]:
        return {"greeting": request.state.greeting}

    return app


async def _maybe_await(value: object) -> None:
    if hasattr(value, "__await__"):
        await value


# -- scopes -----------------------------------------------------------------------------------

SESSION_JOURNAL = Journal()


@pytest.fixture(scope="session")
async def session_client() -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(make_app(SESSION_JOURNAL)) as client:
        yield client


@pytest.fixture
async def function_client() -> AsyncIterator[tuple[httpx.AsyncClient, Journal]]:
    journal = Journal()
    async with app_client(make_app(journal)) as client:
        yield client, journal
    assert journal.events == ["startup", "shutdown"]


@pytest.mark.parametrize("run", [1, 2])
async def test_session_scoped_client_starts_the_app_once(
    session_client: httpx.AsyncClient, run: int
) -> None:
    response = await session_client.get("/greeting")
    assert response.json() == {"greeting": "hello from lifespan #1"}
    assert SESSION_JOURNAL.events == ["startup"]


@pytest.mark.parametrize("run", [1, 2])
async def test_function_scoped_client_runs_a_lifespan_per_test(
    function_client: tuple[httpx.AsyncClient, Journal], run: int
) -> None:
    client, journal = function_client
    response = await client.get("/greeting")
    assert response.status_code == 200
    assert response.json() == {"greeting": "hello from lifespan #1"}  # a fresh app state
    assert journal.events == ["startup"]


async def test_lifespan_state_reaches_handlers_and_base_url_is_used() -> None:
    journal = Journal()
    async with app_client(make_app(journal), base_url="http://svc.test/") as client:
        response = await client.get("greeting")
    assert str(response.url) == "http://svc.test/greeting"
    assert response.json()["greeting"].startswith("hello from lifespan")


async def test_client_kwargs_reach_httpx() -> None:
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str | None]:
        return {"auth": request.headers.get("authorization")}

    async with app_client(app, headers={"Authorization": "Bearer t0ken"}) as client:
        assert (await client.get("/whoami")).json() == {"auth": "Bearer t0ken"}


async def test_shutdown_runs_even_when_the_block_fails() -> None:
    journal = Journal()
    with pytest.raises(AssertionError, match="the test failed"):
        async with app_client(make_app(journal)):
            raise AssertionError("the test failed")
    assert journal.events == ["startup", "shutdown"]


async def test_shutdown_runs_when_the_block_is_cancelled() -> None:
    journal = Journal()
    with anyio.CancelScope() as scope:
        async with app_client(make_app(journal)):
            scope.cancel()  # once started, however long the start took
            await anyio.sleep_forever()
    assert journal.events == ["startup", "shutdown"]


# -- lifespan failures name the app -----------------------------------------------------------


async def test_failing_startup_raises_a_lifespan_error_naming_the_app() -> None:
    def broken() -> None:
        raise ConnectionRefusedError("postgres at 127.0.0.1:1 refused")

    with pytest.raises(LifespanError) as caught:
        async with app_client(make_app(Journal(), on_startup=broken, title="Orders")):
            pytest.fail("the block must not run")  # pragma: no cover
    message = str(caught.value)
    assert "FastAPI app 'Orders' failed during its lifespan startup" in message
    assert "ConnectionRefusedError: postgres at 127.0.0.1:1 refused" in message
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.mark.harness_timeout(60)  # the bound on a hang, not a speed: it ends at ~0.2 s
async def test_hanging_startup_fails_within_its_bound() -> None:
    with pytest.raises(
        LifespanError, match=r"'Stuck' did not finish its lifespan startup within 0\.2 s"
    ):
        async with app_client(
            make_app(Journal(), on_startup=anyio.sleep_forever, title="Stuck"),
            startup_timeout=0.2,
        ):
            pytest.fail("the block must not run")  # pragma: no cover


async def test_hanging_shutdown_fails_within_its_bound() -> None:
    with pytest.raises(LifespanError, match=r"did not finish its lifespan shutdown within 0\.2 s"):
        async with app_client(
            make_app(Journal(), on_shutdown=anyio.sleep_forever), shutdown_timeout=0.2
        ):
            pass


async def test_failing_shutdown_after_a_failing_block_reports_both() -> None:
    def broken() -> None:
        raise RuntimeError("could not close the consumer")

    with pytest.raises(AssertionError, match="the test failed") as caught:
        async with app_client(make_app(Journal(), on_shutdown=broken)):
            raise AssertionError("the test failed")
    notes = "\n".join(caught.value.__notes__)
    assert "failed during its lifespan shutdown" in notes
    assert "could not close the consumer" in notes


async def test_a_bare_asgi_app_without_lifespan_support_is_named() -> None:
    async def bare_app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"

    with pytest.raises(LifespanError, match=r"ASGI app .*bare_app failed during its lifespan"):
        async with app_client(bare_app):  # type: ignore[arg-type]
            pass  # pragma: no cover
