"""Self-delivery service entry point: ``uvicorn services.self_delivery_service.app.main:app``.

Settings and connections are created in the lifespan, not at import, so the process environment
(or the test harness) decides where PostgreSQL and RabbitMQ live right before startup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypedDict

import aio_pika
import aio_pika.abc
import asyncpg
from fastapi import FastAPI

from shared.connections import ensure_async_postgres_pool, ensure_async_rabbitmq_connection
from shared.settings import Settings, load_settings

from .api.routes import courier
from .locations import LocationPublisher


class State(TypedDict):
    """What each request sees as ``request.state`` (one instance per lifespan)."""

    settings: Settings
    pool: asyncpg.Pool
    location_publisher: LocationPublisher


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
    """Open PostgreSQL and a confirming RabbitMQ channel; declare the services exchange."""
    settings = load_settings()
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(ensure_async_postgres_pool(settings))
        connection = await stack.enter_async_context(ensure_async_rabbitmq_connection(settings))
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            settings.rabbitmq_services_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        yield State(
            settings=settings,
            pool=pool,
            location_publisher=LocationPublisher(
                exchange=exchange, routing_key=settings.courier_location_routing_key
            ),
        )


app = FastAPI(title="self_delivery_service", lifespan=lifespan)
app.include_router(courier.router)
