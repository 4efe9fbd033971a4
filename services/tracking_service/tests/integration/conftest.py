"""Function-scoped client: a fresh tracking app, and so a fresh consumer, for each test.

Consumer tests need the background worker's whole life inside the test: started before the
publish, stopped (consumer cancelled, channel closed) before the next test begins. The work queue
is purged first: it is durable, so it holds whatever other suites published since the last
consumer stopped, and storing those here would be this test's side effect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client, override_env
from services.tracking_service.app.main import app

from .utils.location_test_helper import purge_locations_queue


@pytest.fixture
async def tracking_consumer_client(
    mongo_url: str, redis_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A tracking app whose consumer runs for this test only, on an emptied queue."""
    await purge_locations_queue(rabbitmq_url)
    with override_env({"TRACKING-CONSUMER-ENABLED": "true"}):
        async with app_client(app) as client:
            yield client
