"""Seeds, builders and probes for the tracking suite.

Seeds write through the harness's raw clients (``mongo()``, ``redis()``, ``rabbitmq()``), never
through the service's data functions, so a bug there cannot hide a failing test. The collection
name and key format below are the storage contract the tests pin down.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import jwt

from harness import mongo, rabbitmq, redis, seed

LOCATIONS_COLLECTION = "courier_locations"
FORGED_SECRET = "an-attacker-secret-long-enough-for-hs256"
"""Signs tokens the service must reject: right shape, wrong key."""


def location_path(user_id: int) -> str:
    return f"/couriers/{user_id}/location"


def track_path(user_id: int) -> str:
    return f"/couriers/{user_id}/track"


def latest_location_key(user_id: int) -> str:
    return f"tracking:couriers:{user_id}:latest"


def services_exchange() -> str:
    return os.environ["RABBITMQ-SERVICES-EXCHANGE"]


def courier_location_routing_key() -> str:
    return os.environ.get("COURIER-LOCATION-ROUTING-KEY", "courier.location")


def locations_queue() -> str:
    return os.environ.get("TRACKING-LOCATIONS-QUEUE", "tracking.courier_locations")


def dead_letter_queue() -> str:
    return os.environ.get("TRACKING-DEAD-LETTER-QUEUE", "tracking.courier_locations.dead")


def unique_courier_id() -> int:
    """A courier id no other test uses (tracking never checks PostgreSQL)."""
    return uuid4().int % 2**53 + 1


def iso(moment: datetime) -> str:
    """The wire format of timestamps: fixed-width UTC at millisecond precision (as published)."""
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_location_event(
    user_id: int,
    *,
    recorded_at: datetime | None = None,
    lat: float = 48.137154,
    lon: float = 11.576124,
    accuracy: float | None = 4.0,
) -> dict[str, Any]:
    """A ``courier.location`` message body as self-delivery publishes it."""
    return {
        "user_id": user_id,
        "lat": lat,
        "lon": lon,
        "accuracy": accuracy,
        "recorded_at": iso(recorded_at or datetime.now(UTC)),
    }


def build_authorization_headers(
    user_id: int, *, secret: str | None = None, expires_in: timedelta = timedelta(minutes=5)
) -> dict[str, str]:
    """A bearer token for *user_id* built with PyJWT directly; forged or expired on request."""
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + expires_in},
        secret or os.environ["JWT-SECRET-KEY"],
        algorithm=os.environ.get("JWT-ALGORITHM", "HS256"),
    )
    return {"Authorization": f"Bearer {token}"}


@seed
async def latest_location(
    event: dict[str, Any], ttl_seconds: int = 600
) -> AsyncIterator[dict[str, Any]]:
    """*event* stored as its courier's latest location in Redis."""
    key = latest_location_key(event["user_id"])
    await redis().set(key, json.dumps(event), ex=ttl_seconds)
    yield event
    await redis().delete(key)


@seed
async def location_history(events: Sequence[dict[str, Any]]) -> AsyncIterator[list[int]]:
    """*events* stored as Mongo history documents; yields the courier ids involved."""
    documents = [
        {**event, "recorded_at": datetime.fromisoformat(event["recorded_at"])} for event in events
    ]
    await mongo()[LOCATIONS_COLLECTION].insert_many(documents)
    user_ids = sorted({event["user_id"] for event in events})
    yield user_ids
    await mongo()[LOCATIONS_COLLECTION].delete_many({"user_id": {"$in": user_ids}})


@seed
async def tracked_courier(user_id: int | None = None) -> AsyncIterator[int]:
    """A courier id whose consumer-written history and latest location are removed afterwards."""
    user_id = user_id or unique_courier_id()
    yield user_id
    await mongo()[LOCATIONS_COLLECTION].delete_many({"user_id": user_id})
    await redis().delete(latest_location_key(user_id))


async def stored_history(user_id: int) -> list[dict[str, Any]]:
    """The courier's history documents, read with the raw Mongo client, newest first."""
    cursor = mongo()[LOCATIONS_COLLECTION].find({"user_id": user_id}, {"_id": 0})
    return [document async for document in cursor.sort("recorded_at", -1)]


async def drain_dead_letters() -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message currently in the dead-letter queue (the app declared it)."""
    queue = await rabbitmq().declare_queue(dead_letter_queue(), durable=True)
    messages = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        messages.append(message)
    return messages


async def consumer_count() -> int:
    """Consumers registered on the locations queue right now.

    Asked of the underlying AMQP channel on purpose: aio-pika's robust channel answers a passive
    declare of a queue it declared before from its cache, with a stale consumer count.
    """
    underlay = await rabbitmq().get_underlay_channel()
    declared = await underlay.queue_declare(locations_queue(), passive=True)
    assert declared.consumer_count is not None
    return declared.consumer_count


async def stored_latest(user_id: int) -> dict[str, Any] | None:
    """The courier's latest location as stored in Redis (decoded), or ``None``."""
    raw = await redis().get(latest_location_key(user_id))
    return None if raw is None else dict(json.loads(raw))


def first_death(message: aio_pika.abc.AbstractIncomingMessage) -> dict[str, Any]:
    """The broker's ``x-death`` record of a dead-lettered message (why and from which queue)."""
    deaths = message.headers.get("x-death")
    assert isinstance(deaths, list) and deaths, f"not dead-lettered: {message.headers!r}"
    death = deaths[0]
    assert isinstance(death, dict)
    return dict(death)


async def purge_locations_queue(rabbitmq_url: str) -> None:
    """Empty the work queue if it exists, over a connection of its own.

    Not the harness's shared channel: a passive declare of a missing queue closes the channel it
    runs on, and the queue is missing until a tracking app first starts.
    """
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(locations_queue(), passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return
        await queue.purge()
