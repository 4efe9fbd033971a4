"""Session-scoped client: one auth app (one lifespan, one pool) for every test of the service.

It requests only PostgreSQL and Redis, so ``pytest services/auth_service`` starts only those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client
from services.auth_service.app.main import app


@pytest.fixture(scope="session")
async def auth_client(postgres_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The auth app, started once with the harness's PostgreSQL and Redis."""
    async with app_client(app) as client:
        yield client
