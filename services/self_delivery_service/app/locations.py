"""Publishing courier locations to the services exchange.

Messages are persistent and the channel confirms publishes, so a 204 means the broker has the
location (not merely that it left this process).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

import aio_pika
import aio_pika.abc

from shared.events import CourierLocationEvent

__all__ = ["LocationPublisher"]


@dataclass(frozen=True, slots=True)
class LocationPublisher:
    """Publishes :class:`CourierLocationEvent` as JSON on one routing key."""

    exchange: aio_pika.abc.AbstractExchange
    routing_key: str

    async def publish(self, *, event: CourierLocationEvent) -> None:
        """Publish *event* and wait for the broker's confirm."""
        message = aio_pika.Message(
            body=event.model_dump_json().encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(uuid4()),
            timestamp=event.recorded_at,
            app_id="self_delivery_service",
        )
        await self.exchange.publish(message, routing_key=self.routing_key)
