"""``POST /courier/location``: 204 and one persistent JSON message, or an error and none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aio_pika
import aio_pika.abc
import httpx
import pytest
from fastapi import status

from harness import eventually, listen, seeded

from ..utils.courier_test_helper import (
    COURIER_LOCATION_PATH,
    FORGED_SECRET,
    bound_queue,
    build_authorization_headers,
    build_location_body,
    courier_location_routing_key,
    courier_row,
    services_exchange,
    user_row,
)

pytestmark = pytest.mark.anyio

NOTHING_PUBLISHED_WITHIN = 0.3


# --8<-- [start:happy]
async def test_post_courier_location_publishes_to_rabbitmq_broker(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    before = datetime.now(UTC)
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id, "offline")),
        listen(courier_location_routing_key(), exchange=services_exchange()) as inbox,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.routing_key == courier_location_routing_key()
    body = message.body
    assert body["user_id"] == user_id
    assert (body["lat"], body["lon"], body["accuracy"]) == (52.520008, 13.404954, 7.5)
    recorded_at = datetime.fromisoformat(body["recorded_at"])
    assert before - timedelta(seconds=1) <= recorded_at <= datetime.now(UTC)


# --8<-- [end:happy]


async def test_location_without_accuracy_is_published_with_null_accuracy(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id, "online")),
        listen(courier_location_routing_key(), exchange=services_exchange()) as inbox,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(lat=-33.8688, lon=151.2093, accuracy=None),
        )
        message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.body["accuracy"] is None
    assert (message.body["lat"], message.body["lon"]) == (-33.8688, 151.2093)


async def test_location_message_is_persistent_json(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    """Read the raw AMQP message: delivery mode and content type are part of the contract."""
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id)),
        seeded(bound_queue(services_exchange(), courier_location_routing_key())) as queue,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        message = await _get_one(queue)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.message_id


# --8<-- [start:nothing]
async def test_location_for_non_courier_is_404_and_publishes_nothing(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user_id,
        listen(courier_location_routing_key(), exchange=services_exchange()) as inbox,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        await inbox.expect_none(within=NOTHING_PUBLISHED_WITHIN)

    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json() == {"detail": "Courier not found"}


# --8<-- [end:nothing]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer not.a.jwt"}, "Invalid token"),
    ],
    ids=["missing", "garbage"],
)
async def test_location_without_valid_token_is_401_and_publishes_nothing(
    self_delivery_client: httpx.AsyncClient, headers: dict[str, str], detail: str
) -> None:
    async with listen(courier_location_routing_key(), exchange=services_exchange()) as inbox:
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH, headers=headers, json=build_location_body()
        )
        await inbox.expect_none(within=NOTHING_PUBLISHED_WITHIN)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() == {"detail": detail}


async def test_location_with_expired_token_is_401(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id)):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id, expires_in=timedelta(seconds=-1)),
            json=build_location_body(),
        )

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() == {"detail": "Token has expired"}


async def test_location_with_forged_token_is_401_and_publishes_nothing(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id)),
        listen(courier_location_routing_key(), exchange=services_exchange()) as inbox,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id, secret=FORGED_SECRET),
            json=build_location_body(),
        )
        await inbox.expect_none(within=NOTHING_PUBLISHED_WITHIN)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


@pytest.mark.parametrize(
    "body",
    [
        {"lat": 90.000001, "lon": 0},
        {"lat": -90.5, "lon": 0},
        {"lat": 0, "lon": 180.1},
        {"lat": 0, "lon": -181},
        {"lat": 0, "lon": 0, "accuracy": -1},
        {"lat": "north", "lon": 0},
        {"lon": 0},
        {"lat": 0},
        {"lat": 0, "lon": 0, "speed": 12},
    ],
    ids=[
        "lat-high",
        "lat-low",
        "lon-high",
        "lon-low",
        "negative-accuracy",
        "lat-not-a-number",
        "no-lat",
        "no-lon",
        "unknown-field",
    ],
)
async def test_location_with_invalid_body_is_422_and_publishes_nothing(
    self_delivery_client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id)),
        listen(courier_location_routing_key(), exchange=services_exchange()) as inbox,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH, headers=build_authorization_headers(user_id), json=body
        )
        await inbox.expect_none(within=NOTHING_PUBLISHED_WITHIN)

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


async def test_location_boundaries_are_accepted(self_delivery_client: httpx.AsyncClient) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id)),
        listen(courier_location_routing_key(), exchange=services_exchange()) as inbox,
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(lat=-90, lon=180, accuracy=0),
        )
        message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert (message.body["lat"], message.body["lon"], message.body["accuracy"]) == (-90, 180, 0)


async def test_exchange_comes_from_settings_read_at_startup(
    private_exchange_client: httpx.AsyncClient, private_exchange: str
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id)),
        listen(courier_location_routing_key(), exchange=private_exchange) as inbox,
    ):
        response = await private_exchange_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.body["user_id"] == user_id


async def _get_one(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    async def arrived() -> aio_pika.abc.AbstractIncomingMessage:
        message = await queue.get(no_ack=True, fail=False)
        assert message is not None, "no message on the test queue yet"
        return message

    return await eventually(arrived, timeout=5)
