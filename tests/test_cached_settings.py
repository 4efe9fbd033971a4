"""The cached-settings trap: an app whose alembic ``env.py`` and lifespan read the database URL
through the same ``@lru_cache``'d ``get_settings()``. Alembic runs in a process of its own, so
the cache the app fills in the test process holds this session's (this worker's) database,
never the template's; and ``env.py`` gets every mapped variable, also those of servers that
are not started yet, so a settings object that requires them all validates there."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SETTINGS = """
import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_name: str
    redis_url: str


@lru_cache
def get_settings() -> Settings:
    return Settings(
        os.environ["APP-DATABASE-URL"], os.environ["APP-DATABASE-NAME"], os.environ["APP-REDIS-URL"]
    )
"""

ENV_PY = """
import asyncio
from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine
from cachedapp.settings import get_settings

def run(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()

async def main():
    settings = get_settings()
    assert settings.database_url.endswith("/" + settings.database_name), settings
    url = settings.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()

asyncio.run(main())
"""

REVISION = """
from alembic import op
from cachedapp.settings import get_settings

revision = "c1"
down_revision = None

def upgrade():
    op.execute("CREATE TABLE migrated_into (name text PRIMARY KEY, redis_url text)")
    op.execute(
        "INSERT INTO migrated_into VALUES (current_database(), '%s')" % get_settings().redis_url
    )

def downgrade():
    op.execute("DROP TABLE migrated_into")
"""

APP = """
from contextlib import asynccontextmanager
import asyncpg
from fastapi import FastAPI, Request
from cachedapp.settings import get_settings

@asynccontextmanager
async def lifespan(app):
    pool = await asyncpg.create_pool(get_settings().database_url, min_size=1, max_size=2)
    try:
        yield {"pool": pool}
    finally:
        await pool.close()

app = FastAPI(lifespan=lifespan)

@app.get("/database")
async def database(request: Request):
    return {"name": await request.state.pool.fetchval("SELECT current_database()")}
"""

TEST = """
import os, pathlib, pytest, harness
from harness import app_client
from cachedapp.main import app
from cachedapp.settings import get_settings

pytestmark = pytest.mark.anyio

async def test_the_app_talks_to_this_sessions_database(postgres_url, redis_url, worker_id):
    async with app_client(app) as client:
        name = (await client.get("/database")).json()["name"]
    ours = await harness.postgres().fetchval("SELECT current_database()")
    assert name == ours == postgres_url.rsplit("/", 1)[1]
    assert get_settings().database_name == ours  # the app's cache: this session's
    migrated_into, redis_then = await harness.postgres().fetchrow("SELECT * FROM migrated_into")
    report = pathlib.Path(os.environ["REPORT_DIR"], worker_id)
    report.write_text(f"{name} {migrated_into} {redis_then}")
"""


def _project(root: Path) -> None:
    package = root / "cachedapp"
    (root / "migrations" / "versions").mkdir(parents=True)
    package.mkdir()
    files = {
        package / "__init__.py": "",
        package / "settings.py": SETTINGS,
        package / "main.py": APP,
        root / "migrations" / "alembic.ini": "[alembic]\nscript_location = %(here)s\n",
        root / "migrations" / "env.py": ENV_PY,
        root / "migrations" / "script.py.mako": "",
        root / "migrations" / "versions" / "c1.py": REVISION,
        root / "test_cached.py": TEST,
        root / "pytest.ini": """
            [pytest]
            pythonpath = .
            harness_alembic_ini = migrations/alembic.ini
            harness_env_map =
                APP-DATABASE-URL=postgres
                APP-DATABASE-NAME=postgres.path
                APP-REDIS-URL=redis
            """,
    }
    for path, text in files.items():
        path.write_text(textwrap.dedent(text))


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "each"]], ids=["serial", "xdist"])
def test_env_py_and_the_app_share_a_cached_settings_function(
    inner_pytest,
    pytester: pytest.Pytester,
    tmp_path: Path,
    postgres_url: str,
    redis_url: str,
    workers: list[str],
) -> None:
    _project(pytester.path)
    reports = tmp_path / "reports"
    reports.mkdir()
    result = inner_pytest("-q", "-p", "no:randomly", *workers, env={"REPORT_DIR": str(reports)})
    result.assert_outcomes(passed=2 if workers else 1)

    seen = [path.read_text().split() for path in sorted(reports.iterdir())]
    assert [path.name for path in sorted(reports.iterdir())] == (
        ["gw0", "gw1"] if workers else ["master"]
    )
    databases = {database for database, _, _ in seen}
    assert len(databases) == len(seen), f"workers shared a database: {seen}"
    assert not any(name.startswith("harness_tpl_") for name in databases), seen
    # env.py migrated the template, through the same cached function, in a process of its own;
    # Redis's variable held an address that never resolves (migrations use PostgreSQL alone).
    for _, migrated_into, redis_then in seen:
        assert migrated_into.startswith("harness_tpl_"), seen
        assert redis_then == "redis://harness:not-started@redis.harness-migrations.invalid:1/0"
