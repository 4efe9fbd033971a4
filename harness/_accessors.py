"""The harness's own session-wide clients, one per started resource.

Seeds and assertions use these raw clients, never the services' repositories, so a bug in a
repository cannot hide a failing test. They are created on the session's event loop when the
resources start and closed when the session ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._exceptions import ResourceNotStartedError

if TYPE_CHECKING:
    import aio_pika.abc
    import asyncpg
    import redis.asyncio as aioredis
    from motor.motor_asyncio import AsyncIOMotorDatabase

__all__ = ["mongo", "postgres", "rabbitmq", "rabbitmq_connection", "redis", "started"]

_clients: dict[str, Any] = {}


def _set_client(resource: str, client: Any) -> None:
    _clients[resource] = client


def _clear_client(resource: str) -> None:
    _clients.pop(resource, None)


def _get(name: str) -> Any:
    try:
        return _clients[name]
    except KeyError:
        resource = name.partition("_")[0]
        raise ResourceNotStartedError(
            f"{name}() was called but this test session has no {resource} client. "
            f"Request the `{resource}` (or `{resource}_url`) fixture from the test or from one of "
            "its fixtures, so the harness starts the server before the test runs."
        ) from None


def postgres() -> asyncpg.Pool:
    """The harness's asyncpg pool on this session's (worker's) PostgreSQL database."""
    pool: asyncpg.Pool = _get("postgres")
    return pool


def mongo() -> AsyncIOMotorDatabase[dict[str, Any]]:
    """The harness's motor database object for this session's (worker's) Mongo database."""
    database: AsyncIOMotorDatabase[dict[str, Any]] = _get("mongo")
    return database


def redis() -> aioredis.Redis:
    """The harness's Redis client on this session's (worker's) database index."""
    client: aioredis.Redis = _get("redis")
    return client


def rabbitmq() -> aio_pika.abc.AbstractChannel:
    """The harness's aio-pika channel on this session's (worker's) RabbitMQ vhost."""
    channel: aio_pika.abc.AbstractChannel = _get("rabbitmq")
    return channel


def rabbitmq_connection() -> aio_pika.abc.AbstractRobustConnection:
    """The connection under :func:`rabbitmq`'s channel: open channels of your own on it (a
    refused declaration closes the channel it was made on, so keep experiments off the shared one).
    """
    connection: aio_pika.abc.AbstractRobustConnection = _get("rabbitmq_connection")
    return connection


def started() -> frozenset[str]:
    """Names of the resources whose clients are live in this session (``{"postgres", ...}``)."""
    return frozenset(_clients)
