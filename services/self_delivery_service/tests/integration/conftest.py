"""Function-scoped client: a fresh app whose lifespan reads the environment of this one test.

The exchange is declared at startup from ``RABBITMQ-SERVICES-EXCHANGE``; to prove that, a test
needs its own app started inside ``override_env``, torn down (channel closed) before the next.
"""

from __future__ import annotations

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
    """A self-delivery app publishing to :func:`private_exchange`."""
    with override_env({"RABBITMQ-SERVICES-EXCHANGE": private_exchange}):
        async with app_client(app) as client:
            yield client
