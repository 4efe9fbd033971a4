"""Connection helpers: each opens a client, proves it answers, yields it and closes it.

They are async context managers so an app's lifespan can stack them (``AsyncExitStack``) and be
sure every client opened before a failure is closed again. Clients live in the lifespan *state*,
not in module globals: two lifespans of the same app (a session-scoped and a function-scoped test
client, or three services in one process) must never share or close each other's pools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import aio_pika.abc
import asyncpg
import redis.asyncio
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo.errors import ConfigurationError

from .exceptions import MissingSettingError
from .settings import Settings

__all__ = [
    "ensure_async_mongo_database",
    "ensure_async_postgres_pool",
    "ensure_async_rabbitmq_connection",
    "ensure_async_redis_client",
    "to_asyncpg_dsn",
]


def to_asyncpg_dsn(url: str) -> str:
    """Accept both ``postgresql://`` and SQLAlchemy's ``postgresql+asyncpg://`` spellings."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def ensure_async_postgres_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on ``POSTGRES-SUPABASE-URL``, closed when the block ends."""
    dsn = to_asyncpg_dsn(settings.require("postgres_url"))
    pool: asyncpg.Pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def ensure_async_redis_client(settings: Settings) -> AsyncIterator[redis.asyncio.Redis]:
    """A Redis client on ``REDIS-URL`` (decoded strings), pinged before use and closed after."""
    client = redis.asyncio.Redis.from_url(settings.require("redis_url"), decode_responses=True)
    try:
        await client.ping()
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def ensure_async_mongo_database(
    settings: Settings,
) -> AsyncIterator[AsyncIOMotorDatabase[dict[str, Any]]]:
    """The Mongo database named in ``MONGO-URL`` (or ``MONGO-DATABASE``), pinged before use."""
    client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(
        settings.require("mongo_url"), tz_aware=True
    )
    try:
        await client.admin.command("ping")
        yield _default_database(client, settings)
    finally:
        client.close()


def _default_database(
    client: AsyncIOMotorClient[dict[str, Any]], settings: Settings
) -> AsyncIOMotorDatabase[dict[str, Any]]:
    if settings.mongo_database:
        return client[settings.mongo_database]
    try:
        return client.get_default_database()
    except ConfigurationError as exc:  # the URL has no /<database>
        raise MissingSettingError(
            "MONGO-URL names no database and MONGO-DATABASE is not set: "
            "add the database to the URL (mongodb://host:port/<database>) or set MONGO-DATABASE."
        ) from exc


@asynccontextmanager
async def ensure_async_rabbitmq_connection(
    settings: Settings,
) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    """A robust aio-pika connection on ``RABBITMQ-URL`` (reconnects after a broker restart)."""
    connection = await aio_pika.connect_robust(settings.require("rabbitmq_url"))
    try:
        yield connection
    finally:
        await connection.close()
