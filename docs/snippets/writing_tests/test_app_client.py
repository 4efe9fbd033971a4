"""app_client on small apps, to show what it does with a lifespan: its state, its shutdown,
its failures."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI, Request

from harness import LifespanError, app_client

pytestmark = pytest.mark.anyio

# --8<-- [start:lifespan_state]
events: list[str] = []


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    events.append("startup")
    yield {"region": "eu-central"}  # lifespan state: request.state in every handler
    events.append("shutdown")


app = FastAPI(title="greeter", lifespan=lifespan)


@app.get("/whoami")
async def whoami(request: Request) -> dict[str, str | None]:
    return {"region": request.state.region, "user": request.headers.get("x-user")}


async def test_state_reaches_handlers_and_shutdown_runs_after_a_failure() -> None:
    with pytest.raises(AssertionError):
        async with app_client(app, headers={"x-user": "ann"}) as client:  # headers: httpx's
            response = await client.get("/whoami")
            assert response.json() == {"region": "eu-central", "user": "ann"}
            assert response.status_code == 201  # fails: it is 200
    assert events == ["startup", "shutdown"]  # shut down all the same


# --8<-- [end:lifespan_state]


# --8<-- [start:lifespan_error]
@asynccontextmanager
async def broken_lifespan(app: FastAPI) -> AsyncIterator[None]:
    raise ConnectionRefusedError("no broker at amqp://127.0.0.1:1/")
    yield


broken = FastAPI(title="broken_service", lifespan=broken_lifespan)


async def test_a_failing_startup_names_the_app() -> None:
    with pytest.raises(LifespanError) as caught:
        async with app_client(broken):
            pass
    assert str(caught.value).startswith(
        "FastAPI app 'broken_service' failed during its lifespan startup: "
        "ConnectionRefusedError: no broker at amqp://127.0.0.1:1/"
    )
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)  # the app's own traceback


# --8<-- [end:lifespan_error]
