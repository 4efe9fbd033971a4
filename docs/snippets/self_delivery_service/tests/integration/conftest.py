"""Function-scoped client: a fresh app, and a fresh lifespan, for each test that asks for it."""

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from harness import app_client, override_env
from services.self_delivery_service.app.main import app


@pytest.fixture
def private_exchange() -> str:
    """An exchange name no other test publishes to."""
    return f"services_test.{uuid4().hex}"


@pytest.fixture
async def private_exchange_client(
    postgres_url: str, rabbitmq_url: str, private_exchange: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app started with RABBITMQ-SERVICES-EXCHANGE pointing at a private exchange."""
    with override_env({"RABBITMQ-SERVICES-EXCHANGE": private_exchange}):
        async with app_client(app) as client:
            yield client
