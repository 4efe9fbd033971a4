"""The location consumer: publish, then *eventually* Mongo history and the Redis latest.

Every test here uses the function-scoped client, so its consumer lives exactly as long as the
test; malformed messages must land in the dead-letter queue, not loop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import aio_pika.abc
import httpx
import pytest

from harness import app_client, eventually, publish, redis, seeded
from services.tracking_service.app.main import app

from ..utils.location_test_helper import (
    build_authorization_headers,
    build_location_event,
    consumer_count,
    courier_location_routing_key,
    drain_dead_letters,
    first_death,
    iso,
    latest_location_key,
    location_path,
    locations_queue,
    services_exchange,
    stored_history,
    stored_latest,
    track_path,
    tracked_courier,
)

pytestmark = pytest.mark.anyio

LATEST_TTL_SECONDS = 3600
TIMEOUT = 10


async def test_consumer_stores_history_and_latest(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    async with seeded(tracked_courier()) as courier_id:
        event = build_location_event(courier_id)
        await publish(courier_location_routing_key(), event, exchange=services_exchange())

        async def stored() -> None:
            assert len(await stored_history(courier_id)) == 1
            assert await redis().exists(latest_location_key(courier_id))

        await eventually(stored, timeout=TIMEOUT)
        [document] = await stored_history(courier_id)
        latest = await stored_latest(courier_id)
        ttl = await redis().ttl(latest_location_key(courier_id))

    assert (document["lat"], document["lon"], document["accuracy"]) == (
        event["lat"],
        event["lon"],
        event["accuracy"],
    )
    assert iso(document["recorded_at"]) == event["recorded_at"]
    assert latest == event
    assert 0 < ttl <= LATEST_TTL_SECONDS


async def test_consumer_results_are_served_by_the_endpoints(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    async with seeded(tracked_courier()) as courier_id:
        event = build_location_event(courier_id, lat=1.5, lon=2.5)
        await publish(courier_location_routing_key(), event, exchange=services_exchange())
        headers = build_authorization_headers(courier_id)

        async def served() -> None:
            response = await tracking_consumer_client.get(
                location_path(courier_id), headers=headers
            )
            assert response.status_code == 200, response.text

        await eventually(served, timeout=TIMEOUT)
        latest = await tracking_consumer_client.get(location_path(courier_id), headers=headers)
        track = await tracking_consumer_client.get(track_path(courier_id), headers=headers)

    assert (latest.json()["lat"], latest.json()["lon"]) == (1.5, 2.5)
    assert [(point["lat"], point["lon"]) for point in track.json()] == [(1.5, 2.5)]


async def test_older_message_is_kept_in_history_but_does_not_replace_latest(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    async with seeded(tracked_courier()) as courier_id:
        newer = build_location_event(courier_id, recorded_at=now, lat=2)
        older = build_location_event(courier_id, recorded_at=now - timedelta(minutes=5), lat=1)
        await publish(courier_location_routing_key(), newer, exchange=services_exchange())
        await publish(courier_location_routing_key(), older, exchange=services_exchange())

        async def both_stored() -> None:
            assert len(await stored_history(courier_id)) == 2

        await eventually(both_stored, timeout=TIMEOUT)
        history = await stored_history(courier_id)
        latest = await stored_latest(courier_id)

    assert [document["lat"] for document in history] == [2, 1]
    assert latest == newer


async def test_malformed_json_is_dead_lettered(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    marker = uuid4().hex
    await publish(
        courier_location_routing_key(), f"not json {marker}".encode(), exchange=services_exchange()
    )

    dead = await _eventually_dead_lettered(marker)

    death = first_death(dead)
    assert death["reason"] == "rejected"
    assert death["queue"] == locations_queue()
    assert death["count"] == 1


@pytest.mark.parametrize(
    "mutation",
    [
        {"user_id": "not-a-number"},
        {"lat": 123.0},
        {"recorded_at": "yesterday"},
        {"recorded_at": None},
        {"unexpected": True},
    ],
    ids=["user-id", "lat-out-of-range", "bad-timestamp", "no-timestamp", "extra-field"],
)
async def test_schema_invalid_message_is_dead_lettered_and_not_stored(
    tracking_consumer_client: httpx.AsyncClient, mutation: dict[str, object]
) -> None:
    marker = uuid4().hex
    async with seeded(tracked_courier()) as courier_id:
        body = build_location_event(courier_id) | mutation | {"marker": marker}
        await publish(courier_location_routing_key(), body, exchange=services_exchange())

        dead = await _eventually_dead_lettered(marker)
        history = await stored_history(courier_id)

    assert first_death(dead)["reason"] == "rejected"
    assert history == []


async def test_consumer_keeps_going_after_a_malformed_message(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    marker = uuid4().hex
    async with seeded(tracked_courier()) as courier_id:
        await publish(courier_location_routing_key(), marker.encode(), exchange=services_exchange())
        await publish(
            courier_location_routing_key(),
            build_location_event(courier_id),
            exchange=services_exchange(),
        )

        async def stored() -> None:
            assert await redis().exists(latest_location_key(courier_id))

        await eventually(stored, timeout=TIMEOUT)
        await _eventually_dead_lettered(marker)


async def test_consumer_is_cancelled_on_shutdown(
    mongo_url: str, redis_url: str, rabbitmq_url: str
) -> None:
    """Shutdown must deregister the consumer, or the broker keeps delivering to a dead app."""
    async with app_client(app):
        running = await consumer_count()
    stopped = await consumer_count()

    assert running == stopped + 1


async def _eventually_dead_lettered(marker: str) -> aio_pika.abc.AbstractIncomingMessage:
    """Wait for the dead letter carrying *marker*; fail listing what did arrive."""
    seen: list[bytes] = []

    async def dead_lettered() -> aio_pika.abc.AbstractIncomingMessage:
        for message in await drain_dead_letters():
            seen.append(message.body)
            if marker.encode() in message.body:
                return message
        raise AssertionError(f"no dead letter with marker {marker}; saw {seen!r}")

    return await eventually(dead_lettered, timeout=TIMEOUT)
