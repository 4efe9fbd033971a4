"""Clients for the other two services, started beside tracking for the end-to-end flow.

Function-scoped: this suite runs all three apps at once in one process, which is exactly what
lifespan-state (not global) connection pools make safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.auth_service.app.main import app as auth_app
from services.self_delivery_service.app.main import app as self_delivery_app


@pytest.fixture
async def auth_client(postgres_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The auth app (PostgreSQL, Redis)."""
    async with app_client(auth_app) as client:
        yield client


@pytest.fixture
async def self_delivery_client(
    postgres_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The self-delivery app (PostgreSQL, RabbitMQ)."""
    async with app_client(self_delivery_app) as client:
        yield client
