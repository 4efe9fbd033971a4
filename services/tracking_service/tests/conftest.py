"""Session-scoped client: one tracking app for the read-only endpoint tests.

It runs without the consumer (``TRACKING-CONSUMER-ENABLED=false``, as an API-only replica would):
a consumer living for the whole session would store locations that other suites' tests publish,
in the middle of unrelated tests. So it needs only MongoDB and Redis; consumer tests use the
function-scoped client in ``integration/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from harness import app_client, override_env
from services.tracking_service.app.main import app


@pytest.fixture(scope="session")
async def tracking_client(mongo_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The tracking app's HTTP side, started once; endpoint tests seed Mongo/Redis directly.

    The override covers the startup only (settings are read there): held for the whole session,
    it would also switch off the consumer of every function-scoped app.
    """
    async with AsyncExitStack() as stack:
        with override_env({"TRACKING-CONSUMER-ENABLED": "false"}):
            client = await stack.enter_async_context(app_client(app))
        yield client
