"""The orders app, started once for the session: one pool, one Redis client, one consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from harness import app_client

from orders.main import app


# --8<-- [start:client]
@pytest.fixture(scope="session")
async def orders_client() -> AsyncIterator[httpx.AsyncClient]:
    # No postgres_url / redis_url / rabbitmq_url arguments: harness_resources starts those
    # servers and sets DATABASE-URL, REDIS-URL and RABBITMQ-URL before any fixture runs.
    async with app_client(app) as client:
        yield client


# --8<-- [end:client]
