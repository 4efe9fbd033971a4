"""``listen`` / ``publish`` against the session's RabbitMQ."""

from __future__ import annotations

import json
import os
from uuid import UUID, uuid4

import aio_pika.abc
import aio_pika.exceptions
import anyio
import pytest

from harness import (
    Message,
    MessageNotReceivedError,
    UnexpectedMessageError,
    eventually,
    listen,
    publish,
    rabbitmq_queue,
    seeded,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("rabbitmq_url")]


async def next_message(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    """The next message on a queue read directly (not through listen)."""

    async def arrived() -> aio_pika.abc.AbstractIncomingMessage:
        message = await queue.get(no_ack=True, fail=False)
        assert message is not None, f"queue {queue.name} is still empty"
        return message

    return await eventually(arrived, timeout=5, interval=0.01)


def unique_key(prefix: str = "test") -> str:
    return f"{prefix}.{uuid4().hex}"


async def test_listen_gets_a_published_json_message_with_headers() -> None:
    key = unique_key()
    courier = uuid4()
    async with listen(key) as inbox:
        await publish(key, {"courier_id": courier, "lat": 52.5}, headers={"x-trace": "t-1"})
        message = await inbox.get(timeout=5)
    assert isinstance(message, Message)
    assert message.body == {"courier_id": str(courier), "lat": 52.5}
    assert UUID(message.body["courier_id"]) == courier
    assert message.headers == {"x-trace": "t-1"}
    assert message.routing_key == key
    assert message.exchange == os.environ["RABBITMQ-SERVICES-EXCHANGE"]
    assert message.content_type == "application/json"


async def test_message_properties_persistence_and_ids_reach_the_listener() -> None:
    key = unique_key()
    async with listen(key) as inbox:
        await publish(key, {"n": 1}, persistent=True, message_id="m-1")
        await publish(key, {"n": 2})
        durable, transient = await inbox.get(timeout=5), await inbox.get(timeout=5)
    assert (durable.persistent, durable.message_id) == (True, "m-1")
    assert transient.persistent is False
    assert transient.message_id != "m-1"


async def test_the_queue_is_bound_before_the_action() -> None:
    key = unique_key()
    async with listen(key) as inbox:
        await publish(key, "first")  # published at once: nothing may be lost
    assert (await inbox.get(timeout=1)).body == "first"


async def test_text_and_binary_bodies() -> None:
    key = unique_key()
    async with listen(key) as inbox:
        await publish(key, "plain text")
        await publish(key, b"\xff\x00")
        text, binary = await inbox.get(), await inbox.get()
    assert (text.body, text.content_type) == ("plain text", "text/plain")
    assert binary.body == b"\xff\x00"


async def test_wildcard_bindings_and_several_keys() -> None:
    prefix = unique_key()
    async with listen([f"{prefix}.created", f"{prefix}.status.*"]) as inbox:
        await publish(f"{prefix}.created", {"n": 1})
        await publish(f"{prefix}.ignored", {"n": 2}, mandatory=False)
        await publish(f"{prefix}.status.online", {"n": 3})
        first, second = await inbox.get(), await inbox.get()
        await inbox.expect_none(within=0.2)
    assert [first.body["n"], second.body["n"]] == [1, 3]


async def test_get_with_a_predicate_skips_other_messages_without_dropping_them() -> None:
    key = unique_key()
    async with listen(key) as inbox:
        for n in range(3):
            await publish(key, {"n": n})
        assert (await inbox.get(where=lambda m: m.body["n"] == 2)).body == {"n": 2}
        assert [(await inbox.get()).body["n"] for _ in range(2)] == [0, 1]
    assert len(inbox) == 3


async def test_get_times_out_listing_what_was_received_instead() -> None:
    key = unique_key()
    async with listen(f"{key}.*") as inbox:
        await publish(f"{key}.status", {"status": "online"})
        await publish(f"{key}.status", {"status": "offline"})
        await inbox.get()  # takes the first one
        started = anyio.current_time()
        with pytest.raises(MessageNotReceivedError) as caught:
            await inbox.get(timeout=0.3, where=lambda m: m.routing_key.endswith(".location"))
    assert anyio.current_time() - started >= 0.3  # it waited its timeout, however fast
    message = str(caught.value)
    assert "no matching message arrived on exchange" in message
    assert "within 0.3 s" in message
    assert "Received instead (2)" in message
    assert "{'status': 'online'}  (already returned by get())" in message
    assert f"[{key}.status] {{'status': 'offline'}}" in message
    assert isinstance(caught.value, AssertionError)  # a test failure, not an error


async def test_get_times_out_saying_nothing_arrived() -> None:
    async with listen(unique_key()) as inbox:
        with pytest.raises(MessageNotReceivedError, match="Nothing was received at all"):
            await inbox.get(timeout=0.1)


async def test_expect_none_passes_when_nothing_arrives() -> None:
    async with listen(unique_key()) as inbox:
        await inbox.expect_none(within=0.1)


async def test_expect_none_fails_naming_what_arrived() -> None:
    key = unique_key()
    async with listen(key) as inbox:
        await publish(key, {"unexpected": True})
        with pytest.raises(UnexpectedMessageError, match=r"but 1 arrived:\n  - \[test\."):
            await inbox.expect_none(within=0.2)


async def test_expect_none_sees_what_was_published_before_it_however_slow_the_delivery(
    rabbitmq_url: str,
) -> None:
    """Not vacuous on a loaded machine: a message the app under test published (on a connection
    of its own, confirmed by the broker) before ``expect_none`` is queued ahead of its marker, so
    even ``within=0`` sees it. Repeated to give a race every chance to show."""
    key = unique_key()
    app_connection = await aio_pika.connect(rabbitmq_url, timeout=10)
    try:
        channel = await app_connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            os.environ["RABBITMQ-SERVICES-EXCHANGE"], aio_pika.ExchangeType.TOPIC, durable=True
        )
        async with listen(key) as inbox:
            for n in range(20):
                await exchange.publish(aio_pika.Message(json.dumps({"n": n}).encode()), key)
                with pytest.raises(UnexpectedMessageError, match=rf"\{{'n': {n}\}}"):
                    await inbox.expect_none(within=0)
                assert (await inbox.get(timeout=0)).body == {"n": n}
            await inbox.expect_none(within=0)  # the markers themselves are never messages
        assert len(inbox) == 20
    finally:
        await app_connection.close()


async def test_publish_fails_when_no_queue_would_receive_the_message() -> None:
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await publish(unique_key("nobody-listens"), {"lost": True})


async def test_publish_to_a_queue_through_the_default_exchange() -> None:
    name = unique_key("direct")
    async with seeded(rabbitmq_queue(name, "unused.binding")) as queue:
        await publish(name, {"direct": True}, exchange="")
        message = await next_message(queue)
    assert message.body == b'{"direct": true}'


async def test_listen_on_another_exchange_declares_it() -> None:
    exchange = f"harness.test.{uuid4().hex}"
    key = unique_key()
    try:
        async with listen(key, exchange=exchange) as inbox:
            await publish(key, "hi", exchange=exchange)
            assert (await inbox.get()).exchange == exchange
    finally:
        from harness import rabbitmq

        await rabbitmq().exchange_delete(exchange)


async def test_a_refused_declaration_does_not_break_the_session_channel() -> None:
    exchange = f"harness.test.{uuid4().hex}"
    from harness import rabbitmq

    await rabbitmq().declare_exchange(exchange, aio_pika.ExchangeType.FANOUT)
    try:
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            async with listen("x", exchange=exchange):
                pass  # pragma: no cover (a topic declaration of a fanout exchange is refused)
        key = unique_key()
        async with listen(key) as inbox:  # the harness's channel still works
            await publish(key, "still fine")
            assert (await inbox.get()).body == "still fine"
    finally:
        await rabbitmq().exchange_delete(exchange)


async def test_the_listen_queue_is_gone_after_the_block() -> None:
    key = unique_key()
    async with listen(key):
        pass
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await publish(key, "nobody is bound any more")
