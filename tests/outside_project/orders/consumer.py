"""Marks an order paid when the payments service publishes ``order.paid``."""

from __future__ import annotations

import json

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from shared.settings import Settings

PAID_COUNTER = "orders:paid-count"


async def start_paid_consumer(
    connection: AbstractRobustConnection, pool: asyncpg.Pool, cache: Redis, settings: Settings
) -> None:
    """Declare the exchange and the queue, bind them, and consume until the connection closes."""
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        settings.orders_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(settings.paid_queue, durable=True)
    await queue.bind(exchange, settings.paid_routing_key)

    async def on_message(message: AbstractIncomingMessage) -> None:
        async with message.process():
            order_id = int(json.loads(message.body)["order_id"])
            await pool.execute(
                "UPDATE orders SET status = 'paid', paid_at = now() WHERE id = $1", order_id
            )
            await cache.incr(PAID_COUNTER)

    await queue.consume(on_message)
