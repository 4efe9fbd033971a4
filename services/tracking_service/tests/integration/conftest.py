"""Function-scoped client: a fresh tracking app, and so a fresh consumer, for each test.

Consumer tests need the background worker's whole life inside the test: started before the
publish, stopped (consumer cancelled, channel closed) before the next test begins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.tracking_service.app.main import app


@pytest.fixture
async def tracking_consumer_client(
    mongo_url: str, redis_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A tracking app whose consumer runs for this test only."""
    async with app_client(app) as client:
        yield client
