"""The app reads DATABASE-URL through an lru_cache'd get_settings(), and so does alembic's env.py.
Alembic ran (into the template) in a process of its own, so the app's cache holds this session's
database, not the template's."""

from __future__ import annotations

import httpx
import pytest
from harness import postgres

pytestmark = pytest.mark.anyio


# --8<-- [start:database]
async def test_the_app_uses_this_sessions_database(
    orders_client: httpx.AsyncClient, postgres_url: str
) -> None:
    ours = await postgres().fetchval("SELECT current_database()")

    response = await orders_client.get("/health/database")

    assert response.json() == {"database": ours}
    assert postgres_url.rsplit("/", 1)[1] == ours
    assert not ours.startswith("harness_tpl_")  # the migrated template is never used directly
    assert await postgres().fetchval("SELECT version_num FROM alembic_version") == "0002"


# --8<-- [end:database]
