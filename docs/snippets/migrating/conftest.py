"""The fixtures of both styles, side by side."""

import warnings
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

with warnings.catch_warnings():  # Starlette warns: TestClient on httpx is deprecated
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from harness import app_client
from services.self_delivery_service.app.main import app


# --8<-- [start:before_client]
@pytest.fixture(scope="session")
def self_delivery_test_client(postgres_url: str, rabbitmq_url: str) -> Iterator[TestClient]:
    with TestClient(app) as client:  # a thread and an event loop of its own (the portal)
        yield client


# --8<-- [end:before_client]


# --8<-- [start:after_client]
@pytest.fixture(scope="session")
async def self_delivery_client(
    postgres_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:  # the session's own event loop: no portal
        yield client


# --8<-- [end:after_client]
