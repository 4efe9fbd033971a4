"""Clients for the examples of the "Writing tests" page: the real services, started in-process."""

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.auth_service.app.main import app as auth_app
from services.self_delivery_service.app.main import app as self_delivery_app
from services.tracking_service.app.main import app as tracking_app


@pytest.fixture(scope="session")
async def auth_client(postgres_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(auth_app) as client:
        yield client


@pytest.fixture(scope="session")
async def self_delivery_client(
    postgres_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(self_delivery_app) as client:
        yield client


@pytest.fixture
async def tracking_consumer_client(
    mongo_url: str, redis_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Function-scoped: the tracking service's consumer runs for one test, then stops."""
    async with app_client(tracking_app, startup_timeout=15) as client:
        yield client
