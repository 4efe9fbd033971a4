"""Session-scoped client: one tracking app for the read-only endpoint tests.

It requests MongoDB, Redis and RabbitMQ (the lifespan starts the consumer), so
``pytest services/tracking_service`` starts those three and not PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.tracking_service.app.main import app


@pytest.fixture(scope="session")
async def tracking_client(
    mongo_url: str, redis_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The tracking app, started once; endpoint tests seed Mongo/Redis directly."""
    async with app_client(app) as client:
        yield client
