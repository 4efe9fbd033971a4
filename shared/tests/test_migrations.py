"""The migration chain: linear with one head, applied to the test database, and reversible.

The round trip runs in a scratch database of its own: ``downgrade base`` drops every schema the
chain made, which must never happen to the database the other tests of this worker use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import anyio
import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from harness import postgres, seed, seeded

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "migrations" / "alembic.ini"

EXPECTED_TABLES = {("marten", "users"), ("self_delivery", "couriers")}
EXPECTED_SCHEMAS = {"marten", "self_delivery"}

# What `file_template` in alembic.ini makes: `<UTC creation time>-<rev>_<slug>.py`, e.g.
# 2026_12_01_1203-0003_courier_vehicles.py. A revision id has no '-' (alembic refuses one), and
# the slug is the message's words joined by '_', so the name alone cannot tell where the id ends:
# `rev_slug` must start with the file's own `revision` followed by '_'.
REVISION_FILE_NAME = re.compile(
    r"(?P<year>[0-9]{4})_(?P<month>0[1-9]|1[0-2])_(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"_(?P<hour>[01][0-9]|2[0-3])(?P<minute>[0-5][0-9])-(?P<rev_slug>[^-@+:/\s]+)\.py"
)


def alembic_config(url: str | None = None) -> Config:
    """The project's alembic config, optionally aimed at *url* instead of the environment's."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logger"] = False  # keep pytest's logging untouched
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


@seed
async def scratch_database(postgres_url: str) -> AsyncIterator[str]:
    """An empty database on the test server; yields its URL, dropped afterwards."""
    name = f"migrations_{uuid4().hex[:12]}"
    await postgres().execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    await postgres().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate(url: str, direction: str, revision: str) -> None:
    """Run ``alembic upgrade|downgrade`` as a developer does: the alembic command, in a process
    of its own (env.py runs its own event loop, and SQLAlchemy's connections live and die in it,
    not in this test's process)."""
    result = await anyio.run_process(
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), direction, revision],
        env={**os.environ, "POSTGRES-SUPABASE-URL": url},
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")


async def schema_snapshot(url: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The project's schemas and tables present in the database at *url*."""
    connection = await asyncpg.connect(url)
    try:
        schemas = await connection.fetch(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY($1)",
            list(EXPECTED_SCHEMAS),
        )
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1)",
            list(EXPECTED_SCHEMAS),
        )
    finally:
        await connection.close()
    return {row[0] for row in schemas}, {(row[0], row[1]) for row in tables}


def test_chain_is_linear_with_one_head() -> None:
    script = script_directory()
    revisions = list(script.walk_revisions())

    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}"
    assert len(script.get_bases()) == 1, f"several bases: {script.get_bases()}"
    assert all(not isinstance(rev.down_revision, tuple | list) for rev in revisions), "a merge"
    assert [rev.revision for rev in revisions] == [
        rev.revision for rev in script.iterate_revisions("heads", "base")
    ]


def test_every_revision_has_a_downgrade() -> None:
    for revision in script_directory().walk_revisions():
        assert callable(getattr(revision.module, "downgrade", None)), revision.revision


@pytest.mark.anyio
async def test_test_database_is_at_head(postgres_url: str) -> None:
    version = await postgres().fetchval("SELECT version_num FROM alembic_version")

    assert version == script_directory().get_current_head()


@pytest.mark.anyio
async def test_downgrade_base_then_upgrade_head_round_trips(postgres_url: str) -> None:
    async with seeded(scratch_database(postgres_url)) as url:
        await migrate(url, "upgrade", "head")
        at_head = await schema_snapshot(url)
        await migrate(url, "downgrade", "base")
        at_base = await schema_snapshot(url)
        await migrate(url, "upgrade", "head")
        at_head_again = await schema_snapshot(url)

    assert at_head == (EXPECTED_SCHEMAS, EXPECTED_TABLES)
    assert at_base == (set(), set())
    assert at_head_again == at_head


@pytest.mark.anyio
async def test_each_revision_steps_down_and_up(postgres_url: str) -> None:
    """Every single step reverses cleanly, not only the whole chain at once."""
    revisions = list(reversed(list(script_directory().walk_revisions())))
    async with seeded(scratch_database(postgres_url)) as url:
        for revision in revisions:
            await migrate(url, "upgrade", revision.revision)
            before = await schema_snapshot(url)
            await migrate(url, "downgrade", "-1")
            await migrate(url, "upgrade", revision.revision)
            assert await schema_snapshot(url) == before, revision.revision


def test_every_revision_file_is_named_by_the_template() -> None:
    for revision in script_directory().walk_revisions():
        name = Path(revision.path).name
        match = REVISION_FILE_NAME.fullmatch(name)
        assert match is not None, f"{name} does not follow file_template in alembic.ini"
        assert match["rev_slug"].startswith(f"{revision.revision}_"), name


def test_alembic_revision_names_the_file_by_the_template(tmp_path: Path) -> None:
    """`alembic revision` in a copy of the folder: a timestamped name, chained onto the head."""
    migrations = tmp_path / "migrations"
    shutil.copytree(ALEMBIC_INI.parent, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    old_head = script_directory().get_current_head()
    before = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)

    ini = str(migrations / "alembic.ini")
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", ini, "revision", "-m", "courier vehicles"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    after = datetime.now(UTC).replace(tzinfo=None)
    assert result.returncode == 0, result.stderr
    copied = ScriptDirectory.from_config(Config(ini))
    [head] = copied.get_heads()
    new = copied.get_revision(head)
    assert new is not None and new.down_revision == old_head
    name = Path(new.path).name
    match = REVISION_FILE_NAME.fullmatch(name)
    assert match is not None, name
    assert match["rev_slug"] == f"{head}_courier_vehicles", name
    made = datetime.strptime(name[:15], "%Y_%m_%d_%H%M")
    assert before <= made <= after, f"{name}: not stamped with the UTC time it was made"
