"""The courier-location consumer: queue topology, the consume loop and per-message handling.

Delivery rules:

- a message that is not a valid :class:`CourierLocationEvent` is rejected without requeue, so the
  broker dead-letters it (``TRACKING-DEAD-LETTER-QUEUE``) instead of redelivering it forever;
- a valid message whose storage fails is requeued once, and dead-lettered if it fails again;
- on shutdown the consumer stops taking messages, finishes the one in hand, and the broker
  requeues whatever was prefetched but not acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aio_pika
import aio_pika.abc
import anyio
from anyio.abc import TaskStatus
from pydantic import ValidationError

from shared.events import CourierLocationEvent
from shared.settings import Settings

__all__ = ["LocationConsumer", "LocationHandler", "declare_tracking_topology"]

log = logging.getLogger(__name__)

LocationHandler = Callable[[CourierLocationEvent], Awaitable[None]]

MESSAGE_TIMEOUT_SECONDS = 10.0
"""Upper bound for storing one message, also how long shutdown waits for the one in hand."""


async def declare_tracking_topology(
    *, channel: aio_pika.abc.AbstractChannel, settings: Settings
) -> aio_pika.abc.AbstractQueue:
    """Declare the services exchange, the dead-letter exchange and queue, and the work queue."""
    exchange = await channel.declare_exchange(
        settings.rabbitmq_services_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead_letter_exchange = await channel.declare_exchange(
        f"{settings.tracking_locations_queue}.dlx", aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_letters = await channel.declare_queue(settings.tracking_dead_letter_queue, durable=True)
    await dead_letters.bind(dead_letter_exchange)
    queue = await channel.declare_queue(
        settings.tracking_locations_queue,
        durable=True,
        arguments={"x-dead-letter-exchange": dead_letter_exchange.name},
    )
    await queue.bind(exchange, routing_key=settings.courier_location_routing_key)
    return queue


class LocationConsumer:
    """Consumes one queue with one handler until :meth:`stop` is called."""

    def __init__(self, *, queue: aio_pika.abc.AbstractQueue, handle: LocationHandler) -> None:
        self._queue = queue
        self._handle = handle
        self._messages: aio_pika.abc.AbstractQueueIterator | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Consume until stopped; reports started once the broker has registered the consumer."""
        async with self._queue.iterator() as messages:
            self._messages = messages  # entering the iterator registered the consumer
            task_status.started()
            async for message in messages:
                with anyio.CancelScope(shield=True):
                    await self._deliver(message)

    async def stop(self) -> None:
        """Cancel the broker-side consumer; :meth:`run` returns after the message in hand."""
        if self._messages is not None:
            await self._messages.close()

    async def _deliver(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            event = CourierLocationEvent.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("dead-lettering malformed courier location %r: %s", message.body, exc)
            await message.reject(requeue=False)
            return
        try:
            async with message.process(requeue=True, reject_on_redelivered=True):
                with anyio.fail_after(MESSAGE_TIMEOUT_SECONDS):
                    await self._handle(event)
        except Exception:
            log.exception("storing courier location failed (requeued once, then dead-lettered)")
