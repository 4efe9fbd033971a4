"""Function-scoped client for tests that need the app started with different settings.

Settings are read in the lifespan, so a fresh app instance started inside ``override_env`` sees
the overridden values; the session-scoped client keeps the defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client, override_env
from services.auth_service.app.main import app

STRICT_MAX_FAILED_ATTEMPTS = 2
STRICT_FAILURE_WINDOW_SECONDS = 60


@pytest.fixture
async def strict_auth_client(postgres_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An auth app locking an email out after two failures within one minute."""
    with override_env(
        {
            "LOGIN-MAX-FAILED-ATTEMPTS": str(STRICT_MAX_FAILED_ATTEMPTS),
            "LOGIN-FAILURE-WINDOW-SECONDS": str(STRICT_FAILURE_WINDOW_SECONDS),
        }
    ):
        async with app_client(app) as client:
            yield client
