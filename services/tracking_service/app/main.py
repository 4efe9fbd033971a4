"""Tracking service entry point: ``uvicorn services.tracking_service.app.main:app``.

The lifespan opens MongoDB and Redis and, unless ``TRACKING-CONSUMER-ENABLED=false``, connects to
RabbitMQ, declares the queue topology and runs the location consumer in a task group beside the
HTTP app; shutdown stops the consumer first (so nothing is half-stored), then closes the
connections in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any, TypedDict

import anyio
import redis.asyncio
from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorCollection

from shared.connections import (
    ensure_async_mongo_database,
    ensure_async_rabbitmq_connection,
    ensure_async_redis_client,
)
from shared.events import CourierLocationEvent
from shared.settings import Settings, load_settings

from .api.routes import couriers
from .consumer import MESSAGE_TIMEOUT_SECONDS, LocationConsumer, declare_tracking_topology
from .locations import (
    LOCATIONS_COLLECTION,
    append_location,
    ensure_location_indexes,
    store_latest_location,
)


class State(TypedDict):
    """What each request sees as ``request.state`` (one instance per lifespan)."""

    settings: Settings
    locations: AsyncIOMotorCollection[Any]
    redis: redis.asyncio.Redis


async def store_location(
    event: CourierLocationEvent,
    *,
    locations: AsyncIOMotorCollection[Any],
    client: redis.asyncio.Redis,
    ttl_seconds: int,
) -> None:
    """The consumer's handler: history first, so the latest never points past the history."""
    await append_location(collection=locations, event=event)
    await store_latest_location(client=client, event=event, ttl_seconds=ttl_seconds)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
    """Open the stores and, unless disabled, run the consumer until shutdown."""
    settings = load_settings()
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(ensure_async_mongo_database(settings))
        client = await stack.enter_async_context(ensure_async_redis_client(settings))
        locations = database[LOCATIONS_COLLECTION]
        await ensure_location_indexes(collection=locations)
        if settings.tracking_consumer_enabled:
            await stack.enter_async_context(
                running_consumer(settings=settings, locations=locations, client=client)
            )
        yield State(settings=settings, locations=locations, redis=client)


@asynccontextmanager
async def running_consumer(
    *, settings: Settings, locations: AsyncIOMotorCollection[Any], client: redis.asyncio.Redis
) -> AsyncIterator[None]:
    """Declare the topology and consume in a task group; stop consuming before anything closes."""
    async with ensure_async_rabbitmq_connection(settings) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=32)
        consumer = LocationConsumer(
            queue=await declare_tracking_topology(channel=channel, settings=settings),
            handle=partial(
                store_location,
                locations=locations,
                client=client,
                ttl_seconds=settings.tracking_latest_ttl_seconds,
            ),
        )
        async with anyio.create_task_group() as task_group:
            await task_group.start(consumer.run)
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await consumer.stop()
                task_group.cancel_scope.deadline = anyio.current_time() + MESSAGE_TIMEOUT_SECONDS


app = FastAPI(title="tracking_service", lifespan=lifespan)
app.include_router(couriers.router)
