"""The ready-made seeds insert for real into the session's servers and leave nothing behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest

from harness import (
    mongo,
    mongo_document,
    postgres,
    postgres_row,
    publish,
    rabbitmq,
    rabbitmq_queue,
    redis,
    redis_key,
    seed,
    seeded,
)
from tests.test_messaging import next_message

pytestmark = pytest.mark.anyio


# -- PostgreSQL -------------------------------------------------------------------------------


async def _users(email: str) -> int:
    count: int = await postgres().fetchval(
        "SELECT count(*) FROM marten.users WHERE email = $1", email
    )
    return count


async def test_postgres_row_inserts_returns_the_record_and_deletes_it(postgres_url: str) -> None:
    email = f"{uuid4().hex}@example.com"
    async with seeded(postgres_row("marten.users", email=email)) as user:
        assert user["email"] == email
        assert isinstance(user["id"], int)  # generated columns come back (RETURNING *)
        assert user["external_id"] is not None
        assert await _users(email) == 1
    assert await _users(email) == 0


async def test_postgres_rows_that_depend_on_each_other(postgres_url: str) -> None:
    email = f"{uuid4().hex}@example.com"
    async with (
        seeded(postgres_row("marten.users", {"email": email})) as user,
        seeded(postgres_row("self_delivery.couriers", user_id=user["id"], status="online")) as c,
    ):
        assert c["status"] == "online"
    assert (
        await postgres().fetchval(
            "SELECT count(*) FROM self_delivery.couriers WHERE user_id = $1", user["id"]
        )
        == 0
    )
    assert await _users(email) == 0


async def test_postgres_row_with_only_defaults(postgres_url: str) -> None:
    async with seeded(postgres_row("marten.users")) as user:
        assert user["email"] is None
    assert (
        await postgres().fetchval("SELECT count(*) FROM marten.users WHERE id = $1", user["id"])
        == 0
    )


async def test_postgres_row_refuses_a_table_without_primary_key(postgres_url: str) -> None:
    @seed
    async def scratch_table() -> AsyncIterator[str]:
        await postgres().execute("CREATE TABLE public.no_key_scratch (value text)")
        yield "public.no_key_scratch"
        await postgres().execute("DROP TABLE public.no_key_scratch")

    async with seeded(scratch_table()) as table:
        with pytest.raises(ValueError, match="has no primary key"):
            async with seeded(postgres_row(table, value="x")):
                pass  # pragma: no cover


async def test_postgres_row_is_deleted_when_the_test_fails(postgres_url: str) -> None:
    email = f"{uuid4().hex}@example.com"
    with pytest.raises(AssertionError):
        async with seeded(postgres_row("marten.users", email=email)):
            raise AssertionError("the test's own failure")
    assert await _users(email) == 0


# -- MongoDB ----------------------------------------------------------------------------------


async def test_mongo_document_inserts_returns_it_with_its_id_and_deletes_it(mongo_url: str) -> None:
    marker = uuid4().hex
    async with seeded(
        mongo_document("locations", {"courier-id": marker}, lat=52.5, lon=13.4)
    ) as document:
        assert document["lat"] == 52.5 and document["courier-id"] == marker
        stored = await mongo()["locations"].find_one({"_id": document["_id"]})
        assert stored is not None and stored["lon"] == 13.4
    assert await mongo()["locations"].count_documents({"courier-id": marker}) == 0


# -- Redis ------------------------------------------------------------------------------------


async def test_redis_key_sets_a_string_and_deletes_it(redis_url: str) -> None:
    key = f"test:{uuid4().hex}"
    async with seeded(redis_key(key, "hello")) as name:
        assert name == key
        assert await redis().get(key) == b"hello"
        assert await redis().ttl(key) == -1  # no expiry unless asked
    assert await redis().exists(key) == 0


async def test_redis_key_with_ttl(redis_url: str) -> None:
    key = f"test:{uuid4().hex}"
    async with seeded(redis_key(key, 3, ttl=30)):
        assert 0 < await redis().pttl(key) <= 30_000
    assert await redis().exists(key) == 0


async def test_redis_key_with_a_mapping_makes_a_hash(redis_url: str) -> None:
    key = f"test:{uuid4().hex}"
    async with seeded(redis_key(key, {"lat": "52.5", "lon": 13.4}, ttl=10)):
        assert await redis().hgetall(key) == {b"lat": b"52.5", b"lon": b"13.4"}
        assert await redis().pttl(key) > 0
    assert await redis().exists(key) == 0


async def test_redis_key_refuses_to_overwrite_an_existing_key(redis_url: str) -> None:
    key = f"test:{uuid4().hex}"
    async with seeded(redis_key(key, "first")):
        with pytest.raises(FileExistsError, match="already exists"):
            async with seeded(redis_key(key, "second")):
                pass  # pragma: no cover
        assert await redis().get(key) == b"first"
    assert await redis().exists(key) == 0


# -- RabbitMQ ---------------------------------------------------------------------------------


async def test_rabbitmq_queue_is_declared_bound_and_deleted(rabbitmq_url: str) -> None:
    import aio_pika.exceptions

    name = f"test.{uuid4().hex}"
    async with seeded(rabbitmq_queue(name, "orders.*")) as queue:
        await publish("orders.created", {"id": 7})
        message = await next_message(queue)
        assert message.body == b'{"id": 7}'
    channel = await rabbitmq_channel()
    try:
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(name, passive=True)
    finally:
        await channel.close()


async def rabbitmq_channel() -> Any:
    """A throwaway channel: a passive declare of a missing queue closes its channel."""
    connection = rabbitmq()._connection  # type: ignore[attr-defined]
    return await connection.channel()


async def test_leftover_check_sees_nothing_after_all_seeds(
    postgres_url: str, mongo_url: str, redis_url: str, request: pytest.FixtureRequest
) -> None:
    from harness._leak_check import snapshot
    from harness._stash import session_of

    infra = session_of(request.config).infra
    assert infra is not None
    stores = {name: infra.leak_counters[name] for name in ("postgres", "mongo", "redis")}
    before = await snapshot(stores)
    async with seeded(
        postgres_row("marten.users", email=f"{uuid4().hex}@example.com"),
        mongo_document("locations", lat=1.0),
        redis_key(f"test:{uuid4().hex}", "v"),
    ):
        during = await snapshot(stores)
    after = await snapshot(stores)
    assert during != before
    assert after == {key: count for key, count in after.items() if before.get(key, 0) == count}
