"""Ready-made seeds for the four stores, written with the harness's raw clients only.

Each one creates exactly one thing and deletes exactly that thing, so a test can use them
without writing a helper:

.. code-block:: python

    async with seeded(
        postgres_row("marten.users", external_id=uuid4(), name="Ann"),
        redis_key("courier:7:last_seen", "2026-11-25T10:00:00Z", ttl=60),
    ) as (user, key):
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from ._accessors import mongo, postgres, redis
from ._messaging import _declare_exchange, _exchange_name, _private_channel
from ._seeding import seed
from ._session import current

if TYPE_CHECKING:
    import aio_pika.abc
    import asyncpg

__all__ = ["mongo_document", "postgres_row", "rabbitmq_queue", "redis_key"]

RedisValue = str | bytes | int | float

_PRIMARY_KEY = """
SELECT $1::regclass::text AS name,
       array(SELECT a.attname FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = $1::regclass AND i.indisprimary
             ORDER BY array_position(i.indkey, a.attnum)) AS key
"""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _table(table: str) -> tuple[str, tuple[str, ...]]:
    """The table's quoted name and primary key columns (cached for the session: one catalog
    query per table)."""
    session = current()
    cache = session.cache.setdefault("table_keys", {}) if session is not None else {}
    if table not in cache:
        row = await postgres().fetchrow(_PRIMARY_KEY, table)
        if not row["key"]:
            raise ValueError(
                f"table {table} has no primary key, so postgres_row cannot delete exactly the "
                "row it inserted. Write a @seed for it that deletes by a unique column."
            )
        cache[table] = (row["name"], tuple(row["key"]))
    found: tuple[str, tuple[str, ...]] = cache[table]
    return found


@seed
async def postgres_row(
    table: str, values: Mapping[str, Any] | None = None, /, **columns: Any
) -> AsyncIterator[asyncpg.Record]:
    """Insert one row into *table*; yield the inserted record; delete it by primary key.

    The record holds every column (``RETURNING *``), so defaults and generated ids are there:
    ``async with seeded(postgres_row("marten.users", name="Ann")) as user: user["id"]``.

    :param table: the table, schema-qualified if it is not on the search path.
    :param values: column values, for column names that are not Python identifiers.
    :param columns: column values as keywords; they win over *values*.
    """
    name, key = await _table(table)
    data = {**(values or {}), **columns}
    if data:
        names = ", ".join(_quote(column) for column in data)
        params = ", ".join(f"${i}" for i in range(1, len(data) + 1))
        sql = f"INSERT INTO {name} ({names}) VALUES ({params}) RETURNING *"
    else:
        sql = f"INSERT INTO {name} DEFAULT VALUES RETURNING *"
    record = await postgres().fetchrow(sql, *data.values())
    yield record
    where = " AND ".join(f"{_quote(column)} = ${i}" for i, column in enumerate(key, 1))
    await postgres().execute(f"DELETE FROM {name} WHERE {where}", *(record[c] for c in key))


@seed
async def mongo_document(
    collection: str, document: Mapping[str, Any] | None = None, /, **fields: Any
) -> AsyncIterator[dict[str, Any]]:
    """Insert one document into *collection*; yield it with its ``_id``; delete it by ``_id``.

    :param collection: the collection in this session's Mongo database.
    :param document: the document, for field names that are not Python identifiers.
    :param fields: fields as keywords; they win over *document*.
    """
    inserted = {**(document or {}), **fields}
    result = await mongo()[collection].insert_one(inserted)
    inserted["_id"] = result.inserted_id
    yield inserted
    await mongo()[collection].delete_one({"_id": result.inserted_id})


@seed
async def redis_key(
    key: str,
    value: RedisValue | Mapping[str, RedisValue],
    *,
    ttl: float | timedelta | None = None,
) -> AsyncIterator[str]:
    """Set *key* (a string, or a hash when *value* is a mapping); yield the key; delete it.

    Refuses a key that already exists, so the cleanup never deletes data it did not create.

    :param key: the key in this session's Redis database.
    :param value: the string value, or the hash's fields.
    :param ttl: optional time to live (seconds or a ``timedelta``), for code that reads the
        expiry (rate limits, sessions); the key is deleted at cleanup either way.
    """
    client = redis()
    milliseconds = None if ttl is None else _milliseconds(ttl)
    if isinstance(value, Mapping):
        if await client.exists(key):
            raise _key_exists(key)
        await client.hset(key, mapping=cast(Any, dict(value)))  # its key type is invariant
        if milliseconds is not None:
            await client.pexpire(key, milliseconds)
    elif not await client.set(key, value, px=milliseconds, nx=True):
        raise _key_exists(key)
    yield key
    await client.delete(key)


def _milliseconds(ttl: float | timedelta) -> int:
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if seconds <= 0:
        raise ValueError(
            f"redis_key: ttl must be positive, got {ttl!r}: give seconds greater than 0, or a "
            "timedelta."
        )
    return max(1, round(seconds * 1000))


def _key_exists(key: str) -> FileExistsError:
    return FileExistsError(
        f"redis key {key!r} already exists; redis_key will not overwrite (and later delete) "
        "data it did not create. Use another key, or find which test left it behind."
    )


@seed
async def rabbitmq_queue(
    name: str,
    routing_key: str | Sequence[str],
    *,
    exchange: str | None = None,
    durable: bool = False,
    arguments: Mapping[str, Any] | None = None,
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """Declare queue *name* bound to *exchange*; yield the aio-pika queue; delete it.

    For consumer-side tests that need the queue a service consumes from to exist before
    publishing, and for tests that read a queue directly (``await queue.get()``).

    :param name: the queue's name (for example the one the service consumes from).
    :param routing_key: the binding key(s).
    :param exchange: the topic exchange to bind to; defaults to the ``harness_exchange`` option
        (declared topic, durable, if missing).
    :param durable: whether the queue survives a broker restart (match the service's own
        declaration, or RabbitMQ refuses the redeclaration).
    :param arguments: queue arguments (``x-dead-letter-exchange``...), same caveat.
    """
    async with _private_channel() as channel:  # a refused declaration closes only this one
        target = await _declare_exchange(channel, _exchange_name(exchange))
        queue = await channel.declare_queue(
            name, durable=durable, arguments=dict(arguments or {}) or None
        )
        for key in (routing_key,) if isinstance(routing_key, str) else routing_key:
            await queue.bind(target, routing_key=key)
        yield queue
        await queue.delete(if_unused=False, if_empty=False)
