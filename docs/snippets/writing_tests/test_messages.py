"""listen / publish beyond the guide: message properties, picking one message, feeding a
consumer, publishing straight to a queue, and what a message with no queue does."""

from uuid import uuid4

import aio_pika
import aio_pika.exceptions
import httpx
import pytest

from harness import listen, publish, rabbitmq_connection, rabbitmq_queue, seeded
from services.self_delivery_service.tests.integration.utils.courier_test_helper import (
    build_authorization_headers,
    build_location_body,
    courier_row,
    user_row,
)

pytestmark = pytest.mark.anyio


# --8<-- [start:properties]
async def test_the_location_message_is_persistent_json_with_an_id(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id, "online")),
        listen("courier.location") as inbox,
    ):
        await self_delivery_client.post(
            "/courier/location",
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        message = await inbox.get(timeout=5)

    assert message.persistent  # delivery_mode=2: it survives a broker restart
    assert message.message_id  # set by the publisher, for consumers that deduplicate
    assert message.content_type == "application/json"
    assert message.exchange == "services_test"  # RABBITMQ-SERVICES-EXCHANGE in .env.test


# --8<-- [end:properties]


# --8<-- [start:where]
async def test_pick_one_message_out_of_several(rabbitmq_url: str) -> None:
    prefix = f"docs.{uuid4().hex}"
    async with listen(f"{prefix}.#") as inbox:  # a topic pattern: any number of words
        for courier_id in (1, 2, 3):
            await publish(f"{prefix}.status", {"courier_id": courier_id, "status": "online"})
        third = await inbox.get(where=lambda m: m.body["courier_id"] == 3)
        first = await inbox.get()  # the ones skipped by where= are still there, in order
        await inbox.expect_none(within=0.2, where=lambda m: m.body["status"] == "offline")

    assert (first.body["courier_id"], third.body["courier_id"]) == (1, 3)
    assert len(inbox.received) == 3  # every message, also those get() has not returned


# --8<-- [end:where]


# --8<-- [start:publish]
async def test_publish_sets_headers_persistence_and_an_id(rabbitmq_url: str) -> None:
    key = f"docs.{uuid4().hex}"
    async with listen(key) as inbox:
        await publish(
            key,
            {"courier_id": uuid4(), "lat": 52.5},  # JSON; the UUID becomes a string
            headers={"x-trace": "t-1"},
            persistent=True,
            message_id="location-1",
        )
        message = await inbox.get(timeout=5)

    assert (message.persistent, message.message_id) == (True, "location-1")
    assert message.headers == {"x-trace": "t-1"}
    assert message.content_type == "application/json"
    assert isinstance(message.body["courier_id"], str)


# --8<-- [end:publish]


# --8<-- [start:direct_and_mandatory]
async def test_publish_straight_to_a_queue_and_into_the_void(rabbitmq_url: str) -> None:
    name = f"docs.direct.{uuid4().hex}"
    async with seeded(rabbitmq_queue(name, "unused.binding")) as queue:
        await publish(name, b"\x00\x01", exchange="")  # the default exchange: to queue `name`
        message = await queue.get(no_ack=True)
        assert message.body == b"\x00\x01"

    with pytest.raises(aio_pika.exceptions.DeliveryError):  # no queue is bound to the key
        await publish(f"docs.nobody.{uuid4().hex}", {"lost": True})
    await publish(f"docs.nobody.{uuid4().hex}", {"lost": True}, mandatory=False)  # on purpose


# --8<-- [end:direct_and_mandatory]


# --8<-- [start:correlation_id]
async def test_a_correlation_id_set_through_aio_pika(rabbitmq_url: str) -> None:
    key = f"docs.{uuid4().hex}"
    async with listen(key) as inbox:
        async with await rabbitmq_connection().channel() as channel:  # a channel of your own
            exchange = await channel.get_exchange(inbox.exchange)
            request = aio_pika.Message(b"{}", correlation_id="request-1", reply_to="replies")
            await exchange.publish(request, routing_key=key)
        message = await inbox.get(timeout=5)
    assert message.correlation_id == "request-1"


# --8<-- [end:correlation_id]
