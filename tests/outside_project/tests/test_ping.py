"""A test the project had before the harness, on pytest-asyncio: it keeps working (strict mode)."""

from __future__ import annotations

import httpx
import pytest

from orders.main import app


# --8<-- [start:asyncio]
@pytest.mark.asyncio
async def test_ping_on_pytest_asyncio() -> None:
    transport = httpx.ASGITransport(app=app)  # no lifespan: the route needs none
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/ping")

    assert response.json() == {"pong": True}


# --8<-- [end:asyncio]
