"""POST /courier/location: 204 and one message on the services exchange, or an error and none."""

import httpx
import pytest
from fastapi import status

from harness import listen, seeded

from ..utils.courier_test_helper import (
    build_authorization_headers,
    build_location_body,
    courier_row,
    user_row,
)

pytestmark = pytest.mark.anyio  # every test in this module is an async test on anyio

COURIER_LOCATION_PATH = "/courier/location"


# --8<-- [start:happy]
async def test_post_courier_location_publishes_to_rabbitmq_broker(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id, "offline")),
        listen("courier.location") as inbox,  # bound before the POST: nothing is missed
    ):
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.routing_key == "courier.location"
    assert message.body["user_id"] == user_id
    assert (message.body["lat"], message.body["lon"]) == (52.520008, 13.404954)


# --8<-- [end:happy]


# --8<-- [start:nothing]
async def test_location_for_non_courier_is_404_and_publishes_nothing(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user_id, listen("courier.location") as inbox:
        response = await self_delivery_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        await inbox.expect_none(within=0.3)

    assert response.status_code == status.HTTP_404_NOT_FOUND


# --8<-- [end:nothing]


# --8<-- [start:function_scoped]
async def test_exchange_comes_from_settings_read_at_startup(
    private_exchange_client: httpx.AsyncClient, private_exchange: str
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id)),
        listen("courier.location", exchange=private_exchange) as inbox,
    ):
        response = await private_exchange_client.post(
            COURIER_LOCATION_PATH,
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.body["user_id"] == user_id


# --8<-- [end:function_scoped]
