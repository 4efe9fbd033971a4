"""Alembic: applied once into the template every session database is cloned from; two heads and
a failing migration stop the run before any test, with a message that says what to do."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import anyio
import pytest

from harness import assert_round_trip
from harness._exceptions import MigrationError
from harness._migrations import single_head

ENV_PY = """
import asyncio, os
from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

def run(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()

async def main():
    url = os.environ["POSTGRES-SUPABASE-URL"].replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()
    await engine.dispose()

asyncio.run(main())
"""

REVISION = """
from alembic import op
revision = {rev!r}
down_revision = {down!r}

def upgrade():
    op.execute({sql!r})

def downgrade():
    op.execute({undo!r})
"""


def make_chain(root: Path, *revisions: tuple[str, str | None, str, str]) -> Path:
    """An alembic project under *root*; each revision is (rev, down_revision, upgrade, downgrade)."""
    migrations = root / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    (migrations / "env.py").write_text(ENV_PY)
    (migrations / "script.py.mako").write_text("")
    for rev, down, sql, undo in revisions:
        (migrations / "versions" / f"{rev}.py").write_text(
            REVISION.format(rev=rev, down=down, sql=sql, undo=undo)
        )
    (root / "pytest.ini").write_text(
        textwrap.dedent(
            """
            [pytest]
            harness_alembic_ini = migrations/alembic.ini
            harness_env_map = POSTGRES-SUPABASE-URL=postgres
            """
        )
    )
    return migrations / "alembic.ini"


def test_every_session_database_is_a_clone_of_the_migrated_template(
    inner_pytest, pytester: pytest.Pytester
) -> None:
    make_chain(
        pytester.path,
        (
            "a1",
            None,
            "CREATE TABLE widgets (id serial PRIMARY KEY, name text)",
            "DROP TABLE widgets",
        ),
        ("a2", "a1", "INSERT INTO widgets (name) VALUES ('from-migration')", "DELETE FROM widgets"),
    )
    pytester.makepyfile(
        test_schema="""
        import os, pytest, harness
        pytestmark = pytest.mark.anyio

        async def test_schema_is_there(postgres_url):
            assert os.environ["POSTGRES-SUPABASE-URL"] == postgres_url
            assert await harness.postgres().fetchval("SELECT name FROM widgets") == "from-migration"
            assert await harness.postgres().fetchval("SELECT version_num FROM alembic_version") == "a2"
        """
    )
    inner_pytest("-q").assert_outcomes(passed=1)


def test_two_heads_stop_the_run_naming_both(inner_pytest, pytester: pytest.Pytester) -> None:
    make_chain(
        pytester.path,
        ("base1", None, "SELECT 1", "SELECT 1"),
        ("left9", "base1", "SELECT 1", "SELECT 1"),
        ("right7", "base1", "SELECT 1", "SELECT 1"),
    )
    pytester.makepyfile(test_x="def test_x(postgres_url):\n    pass\n")
    result = inner_pytest("-q")
    assert result.ret == 3
    output = result.stdout.str() + result.stderr.str()
    assert "2 heads (left9, right7)" in output
    assert "keep the chain linear" in output
    assert "1 passed" not in output


def test_a_failing_migration_stops_the_run_with_alembics_message(
    inner_pytest, pytester: pytest.Pytester
) -> None:
    make_chain(pytester.path, ("bad1", None, "SELECT * FROM no_such_table", "SELECT 1"))
    pytester.makepyfile(test_x="def test_x(postgres_url):\n    pass\n")
    result = inner_pytest("-q")
    assert result.ret == 3
    output = result.stdout.str() + result.stderr.str()
    assert "alembic upgrade head" in output
    assert 'relation "no_such_table" does not exist' in output
    assert "1 passed" not in output


def test_single_head_names_the_heads(tmp_path: Path) -> None:
    ini = make_chain(
        tmp_path, ("r1", None, "SELECT 1", "SELECT 1"), ("r2", None, "SELECT 1", "SELECT 1")
    )
    with pytest.raises(MigrationError, match=r"2 heads \(r1, r2\)"):
        single_head(ini)
    ini2 = make_chain(
        tmp_path / "linear",
        ("r1", None, "SELECT 1", "SELECT 1"),
        ("r2", "r1", "SELECT 1", "SELECT 1"),
    )
    assert single_head(ini2) == "r2"


@pytest.fixture
async def scratch_database(harness_infra) -> AsyncIterator[str]:
    """An empty database of its own on the session's PostgreSQL server."""
    from harness._urls import with_path
    from harness.resources import REGISTRY

    server = harness_infra.servers["postgres"]
    resource = REGISTRY["postgres"]
    name = f"scratch_{uuid4().hex[:8]}"
    await resource.admin_execute(server.url, f'CREATE DATABASE "{name}"')
    try:
        yield with_path(server.url, name)
    finally:
        await resource.admin_execute(server.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.anyio
async def test_round_trip_passes_for_a_chain_whose_downgrades_work(
    postgres_url: str, scratch_database: str, tmp_path: Path
) -> None:
    ini = make_chain(
        tmp_path,
        ("g1", None, "CREATE TABLE g (id int)", "DROP TABLE g"),
        ("g2", "g1", "ALTER TABLE g ADD c int", "ALTER TABLE g DROP c"),
    )
    await anyio.to_thread.run_sync(lambda: assert_round_trip(ini, scratch_database))


@pytest.mark.anyio
async def test_round_trip_names_the_step_that_breaks(
    postgres_url: str, scratch_database: str, tmp_path: Path
) -> None:
    ini = make_chain(tmp_path, ("b1", None, "CREATE TABLE b (id int)", "DROP TABLE no_such_table"))
    with pytest.raises(MigrationError, match=r"failed at `downgrade base`.*no_such_table"):
        await anyio.to_thread.run_sync(lambda: assert_round_trip(ini, scratch_database))
