"""Alembic environment (alembic's async template): the URL comes from the app's cached settings."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import get_settings

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


# --8<-- [start:url]
def database_url() -> str:
    """``DATABASE-URL`` through the same cached settings the app reads, for SQLAlchemy's asyncpg."""
    url = get_settings().database_url
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


# --8<-- [end:url]


def run_migrations_offline() -> None:
    context.configure(url=database_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
