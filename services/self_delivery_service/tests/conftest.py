"""Session-scoped client: one self-delivery app (one pool, one channel) for the whole run.

It requests only PostgreSQL and RabbitMQ, so ``pytest services/self_delivery_service`` starts
only those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.self_delivery_service.app.main import app


@pytest.fixture(scope="session")
async def self_delivery_client(
    postgres_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The self-delivery app, started once with the harness's PostgreSQL and RabbitMQ."""
    async with app_client(app) as client:
        yield client
