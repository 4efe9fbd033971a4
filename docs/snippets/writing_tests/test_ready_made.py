"""The ready-made seeds beyond the guide's example: chained rows, a hash with a TTL, a queue."""

import json
from datetime import timedelta
from uuid import uuid4

import aio_pika.abc
import pytest

from harness import eventually, postgres_row, publish, rabbitmq_queue, redis, redis_key, seeded

pytestmark = pytest.mark.anyio


# --8<-- [start:rows]
async def test_a_courier_row_on_a_user_row(postgres_url: str) -> None:
    async with (
        seeded(postgres_row("marten.users")) as user,  # no columns: INSERT ... DEFAULT VALUES
        seeded(postgres_row("self_delivery.couriers", user_id=user["id"])) as courier,
    ):
        assert user["external_id"] is not None  # server defaults are in the record
        assert courier["status"] == "offline"
    # deleted in reverse order, each by its primary key


# --8<-- [end:rows]


# --8<-- [start:hash_and_queue]
async def test_a_hash_with_a_ttl_and_a_queue_read_directly(
    redis_url: str, rabbitmq_url: str
) -> None:
    async with seeded(
        redis_key(
            f"session:{uuid4().hex}", {"user_id": 7, "role": "courier"}, ttl=timedelta(minutes=5)
        ),
        rabbitmq_queue(f"docs.status.{uuid4().hex}", "courier.status.*"),
    ) as (key, queue):
        assert await redis().hgetall(key) == {b"user_id": b"7", b"role": b"courier"}
        assert 0 < await redis().ttl(key) <= 300

        await publish("courier.status.online", {"user_id": 7})

        async def arrived() -> aio_pika.abc.AbstractIncomingMessage:
            message = await queue.get(no_ack=True, fail=False)
            assert message is not None, "the queue is still empty"
            return message

        message = await eventually(arrived)
        assert json.loads(message.body) == {"user_id": 7}


# --8<-- [end:hash_and_queue]
