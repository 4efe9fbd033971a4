"""The harness's own clients, one per started resource, for seeds and assertions.

Seeds and assertions use these raw clients, never the services' repositories, so a bug in a
repository cannot hide a failing test. They are opened on the session's event loop when the
resources start and closed when the session ends. A resource kind of a project's own gets the
same through :meth:`harness.resources.Resource.client`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._session import current, get_client

if TYPE_CHECKING:
    import aio_pika.abc
    import asyncpg
    import redis.asyncio as aioredis

__all__ = ["mongo", "postgres", "rabbitmq", "rabbitmq_connection", "redis", "started"]


def postgres() -> asyncpg.Pool:
    """The harness's asyncpg pool on this session's (worker's) PostgreSQL database."""
    pool: asyncpg.Pool = get_client("postgres")
    return pool


def mongo() -> Any:
    """The harness's database object for this session's (worker's) Mongo database.

    A ``pymongo`` ``AsyncDatabase`` (PyMongo's async API) or a motor ``AsyncIOMotorDatabase``,
    as ``harness_mongo_driver`` chooses; both take the same ``await db[name].insert_one(...)``.
    """
    return get_client("mongo")


def redis() -> aioredis.Redis:
    """The harness's Redis client on this session's (worker's) database index."""
    client: aioredis.Redis = get_client("redis")
    return client


def rabbitmq() -> aio_pika.abc.AbstractChannel:
    """The harness's aio-pika channel on this session's (worker's) RabbitMQ vhost."""
    channel: aio_pika.abc.AbstractChannel = get_client("rabbitmq")
    return channel


def rabbitmq_connection() -> aio_pika.abc.AbstractRobustConnection:
    """The connection under :func:`rabbitmq`'s channel: open channels of your own on it (a
    refused declaration closes the channel it was made on, so keep experiments off the shared one).
    """
    connection: aio_pika.abc.AbstractRobustConnection = get_client(
        "rabbitmq_connection", "rabbitmq"
    )
    return connection


def started() -> frozenset[str]:
    """Names of the clients live in this session (``{"postgres", "rabbitmq_connection", ...}``)."""
    session = current()
    return frozenset(session.clients) if session is not None else frozenset()
