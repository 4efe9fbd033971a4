"""The generated test suites the benchmark runs: the courier-location flow written three ways
(the guide's portal way, the harness way, a bare floor), and the one-test files of the startup
benchmark.

Generated into a temp dir rather than kept as test files so the repository's own ``pytest`` never
collects 300 copies of a flow, and so N is a parameter. Every variant runs exactly the same four
SQL statements and one POST against the same app; only how the test is written differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench._proc import ROOT

__all__ = ["STARTUP_SETS", "VARIANTS", "Variant", "write_startup_suite", "write_variant"]

_HELPERS = "services.self_delivery_service.tests.integration.utils.courier_test_helper"

HARNESS_INI = f"""\
[pytest]
harness_backend = local
harness_env_file = {ROOT / ".env.test"}
harness_alembic_ini = {ROOT / "shared/migrations/alembic.ini"}
harness_env_map =
    POSTGRES-SUPABASE-URL=postgres
    RABBITMQ-URL=rabbitmq
    MONGO-URL=mongo
    REDIS-URL=redis
"""
PLAIN_INI = "[pytest]\n"

_HARNESS = f'''\
"""The harness way: anyio tests, a {{scope}}-scoped app_client, seeded(...) (generated)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness import app_client, seeded
from services.self_delivery_service.app.main import app
from {_HELPERS} import (
    COURIER_LOCATION_PATH,
    build_authorization_headers,
    build_location_body,
    courier_row,
    user_row,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="{{scope}}")
async def client(postgres_url: str, rabbitmq_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


@pytest.mark.parametrize("i", range({{n}}))
async def test_courier_location(client: httpx.AsyncClient, i: int) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id, "online")):
        response = await client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        assert response.status_code == 204
'''

_STATEMENTS = """\
INSERT_USER = "INSERT INTO marten.users (external_id) VALUES ($1) RETURNING id"
INSERT_COURIER = (
    "INSERT INTO self_delivery.couriers (user_id, status, updated_at) "
    "VALUES ($1, $2, coalesce($3, now()))"
)
DELETE_COURIER = "DELETE FROM self_delivery.couriers WHERE user_id = $1"
DELETE_USER = "DELETE FROM marten.users WHERE id = $1"
"""

_PORTAL = f'''\
"""The original guide's way: sync tests, a {{scope}}-scoped Starlette TestClient, seeds run
through client.portal.call on the client's loop, cleanup in try/finally (generated)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from uuid import UUID, uuid4

import asyncpg
import pytest
from fastapi import status
from fastapi.testclient import TestClient

from services.self_delivery_service.app.main import app
from {_HELPERS} import (
    COURIER_LOCATION_PATH,
    build_authorization_headers,
    build_location_body,
)

{_STATEMENTS}
_pool: asyncpg.Pool | None = None


async def open_seed_pool() -> None:
    """The guide's ensure_async_postgres_pool(): a pool lives on one loop, so one per portal."""
    global _pool
    _pool = await asyncpg.create_pool(
        os.environ["POSTGRES-SUPABASE-URL"], min_size=1, max_size=10
    )


async def close_seed_pool() -> None:
    if _pool is not None:
        await _pool.close()


def ensure_async_postgres_pool() -> asyncpg.Pool:
    assert _pool is not None
    return _pool


async def seed_user(external_id: UUID) -> int:
    user_id: int = await ensure_async_postgres_pool().fetchval(INSERT_USER, external_id)
    return user_id


async def seed_courier_row(user_id: int, status: str) -> None:
    await ensure_async_postgres_pool().execute(INSERT_COURIER, user_id, status, None)


async def cleanup_courier_seed(user_id: int | None) -> None:
    if user_id is None:
        return
    pool = ensure_async_postgres_pool()
    await pool.execute(DELETE_COURIER, user_id)
    await pool.execute(DELETE_USER, user_id)


@pytest.fixture(scope="{{scope}}")
def self_delivery_client() -> Iterator[TestClient]:
    with TestClient(app) as client:
        client.portal.call(open_seed_pool)
        try:
            yield client
        finally:
            client.portal.call(close_seed_pool)


@pytest.mark.parametrize("i", range({{n}}))
def test_courier_location(self_delivery_client: TestClient, i: int) -> None:
    user_id: int | None = None
    portal = self_delivery_client.portal
    try:
        user_id = portal.call(seed_user, uuid4())
        portal.call(seed_courier_row, user_id, "online")
        response = self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        assert response.status_code == status.HTTP_204_NO_CONTENT
    finally:
        portal.call(cleanup_courier_seed, user_id)
'''

_BARE = f'''\
"""The floor: the same statements hand-written with asyncpg, httpx.ASGITransport and
asgi_lifespan ({{scope}}-scoped app), anyio's own pytest plugin, no harness (generated)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.self_delivery_service.app.main import app
from {_HELPERS} import (
    COURIER_LOCATION_PATH,
    build_authorization_headers,
    build_location_body,
)

{_STATEMENTS}
pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
async def pool() -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(os.environ["POSTGRES-SUPABASE-URL"], min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="{{scope}}")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.parametrize("i", range({{n}}))
async def test_courier_location(pool: asyncpg.Pool, client: httpx.AsyncClient, i: int) -> None:
    user_id = await pool.fetchval(INSERT_USER, uuid4())
    try:
        await pool.execute(INSERT_COURIER, user_id, "online", None)
        try:
            response = await client.post(
                COURIER_LOCATION_PATH,
                headers=build_authorization_headers(user_id),
                json=build_location_body(),
            )
            assert response.status_code == 204
        finally:
            await pool.execute(DELETE_COURIER, user_id)
    finally:
        await pool.execute(DELETE_USER, user_id)
'''


@dataclass(frozen=True)
class Variant:
    """One way of writing the flow, run as its own pytest process."""

    name: str
    way: str  # portal | harness | bare
    scope: str  # session | function
    leak_check: str = "fail"
    """Only for the harness way: the run's ``--harness-leak-check``."""

    @property
    def uses_harness(self) -> bool:
        return self.way == "harness"

    def pytest_args(self) -> list[str]:
        if self.uses_harness:
            return [f"--harness-leak-check={self.leak_check}"]
        return ["-p", "no:harness"]  # the guide's way and the floor run without the plugin


VARIANTS: tuple[Variant, ...] = (
    Variant("portal-session", "portal", "session"),
    Variant("portal-function", "portal", "function"),
    Variant("harness-session", "harness", "session"),
    Variant("harness-function", "harness", "function"),
    Variant("harness-session-noleak", "harness", "session", leak_check="off"),
    Variant("harness-function-noleak", "harness", "function", leak_check="off"),
    Variant("bare-session", "bare", "session"),
    Variant("bare-function", "bare", "function"),
)

_TEMPLATES = {"portal": _PORTAL, "harness": _HARNESS, "bare": _BARE}


def write_variant(variant: Variant, n: int, base: Path) -> Path:
    """Write *variant* with *n* tests into its own dir (its own ini: its own rootdir)."""
    directory = base / variant.name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(
        HARNESS_INI if variant.uses_harness else PLAIN_INI, encoding="utf-8"
    )
    source = _TEMPLATES[variant.way].format(scope=variant.scope, n=n)
    (directory / "test_flow.py").write_text(source, encoding="utf-8")
    return directory


STARTUP_SETS: dict[str, tuple[str, ...]] = {
    "postgres": ("postgres",),
    "rabbitmq": ("rabbitmq",),
    "mongo": ("mongo",),
    "redis": ("redis",),
    "all four": ("postgres", "rabbitmq", "mongo", "redis"),
    "none": (),
}
"""Test file per resource set; ``none`` is the plugin with nothing to start (pytest's floor)."""


def startup_file(label: str) -> str:
    return f"test_{label.replace(' ', '_')}.py"


def write_startup_suite(base: Path) -> Path:
    """One dir (one rootdir: one reuse record shared by every set) with a one-test file per set:
    the test asks for each resource's URL fixture, so the harness starts exactly that set."""
    directory = base / "startup"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(HARNESS_INI, encoding="utf-8")
    for label, resources in STARTUP_SETS.items():
        params = ", ".join(f"{name}_url: str" for name in resources)
        source = (
            f'"""Startup with {label} (generated)."""\n\n\n'
            f"def test_first({params}) -> None:\n    pass\n"
        )
        (directory / startup_file(label)).write_text(source, encoding="utf-8")
    return directory
