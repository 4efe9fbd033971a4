"""Session-scoped client: one app (one lifespan, one pool, one channel) for every test."""

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.self_delivery_service.app.main import app


@pytest.fixture(scope="session")
async def self_delivery_client(
    postgres_url: str,
    rabbitmq_url: str,  # requesting these starts PostgreSQL and RabbitMQ
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:  # lifespan startup here, shutdown at session end
        yield client
